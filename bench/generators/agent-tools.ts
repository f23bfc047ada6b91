// The coding agent's tools: Anthropic tool definitions shaped like a CLI agent's (Bash, Read,
// Edit, Grep, Glob, Write) and seeded calls with plausible results. The definitions are sent
// with every request, so they are part of the prefix a cache must keep.
import { type Rng, type ToolOutputKind, approxTokens } from './random.js';

/** An Anthropic tool definition. */
export interface ToolDefinition { name: string; description: string; input_schema: Record<string, unknown> }

/** One tool call and the text its tool_result carries back. */
export interface ToolCall { id: string; name: string; input: Record<string, unknown>; output: string }

const str = (description: string): Record<string, unknown> => ({ type: 'string', description });
const num = (description: string): Record<string, unknown> => ({ type: 'number', description });
const schema = (properties: Record<string, unknown>, required: string[]): Record<string, unknown> =>
  ({ type: 'object', properties, required, additionalProperties: false, $schema: 'http://json-schema.org/draft-07/schema#' });

/** The agent's six tools, in the order every request lists them. */
export const TOOLS: ToolDefinition[] = [
  {
    name: 'Bash',
    description: 'Runs a shell command in a persistent session with an optional timeout. Use it for builds, tests, git and package managers, not for reading or searching files: the dedicated tools do that better. Quote paths that contain spaces. Output longer than 30000 characters is truncated.',
    input_schema: schema({ command: str('The command to run'), description: str('What the command does, in five to ten words'), timeout: num('Timeout in milliseconds, at most 600000') }, ['command']),
  },
  {
    name: 'Read',
    description: 'Reads a file from the local file system and returns it with line numbers, starting at 1. The path must be absolute. By default up to 2000 lines are read from the start; pass an offset and a limit for long files. Lines longer than 2000 characters are cut.',
    input_schema: schema({ file_path: str('The absolute path of the file to read'), offset: num('The line to start reading from'), limit: num('How many lines to read') }, ['file_path']),
  },
  {
    name: 'Edit',
    description: 'Replaces an exact string in a file. The file must have been read in this conversation first. The edit fails when old_string is not unique in the file unless replace_all is set; give more surrounding context to make it unique. Keep the indentation exactly as the file has it.',
    input_schema: schema({ file_path: str('The absolute path of the file to change'), old_string: str('The text to replace'), new_string: str('The text to put in its place'), replace_all: { type: 'boolean', default: false, description: 'Replace every occurrence of old_string' } }, ['file_path', 'old_string', 'new_string']),
  },
  {
    name: 'Grep',
    description: 'Searches file contents with a regular expression (ripgrep syntax). Filter files with glob or type. The output mode content shows matching lines, files_with_matches shows only paths (the default), count shows match counts.',
    input_schema: schema({ pattern: str('The regular expression to search for'), path: str('File or directory to search in, the working directory by default'), glob: str('Glob pattern to filter files, e.g. "*.ts"'), output_mode: { type: 'string', enum: ['content', 'files_with_matches', 'count'], description: 'What to show' }, '-n': { type: 'boolean', description: 'Show line numbers' } }, ['pattern']),
  },
  {
    name: 'Glob',
    description: 'Finds files by name with a glob pattern such as "src/**/*.ts" and returns matching paths sorted by modification time. Works on a code base of any size.',
    input_schema: schema({ pattern: str('The glob pattern to match'), path: str('The directory to search in, the working directory by default') }, ['pattern']),
  },
  {
    name: 'Write',
    description: 'Writes a file to the local file system, replacing any file at that path. Read an existing file first. Prefer editing existing files to writing new ones, and never write documentation files unless asked to.',
    input_schema: schema({ file_path: str('The absolute path of the file to write'), content: str('The content to write') }, ['file_path', 'content']),
  },
];

/**
 * A seeded tool call of the agent working in `root`, with a result of at most `maxTokens`
 * (mostly small, now and then a large file or log, as agents' tool results are).
 */
export function toolCall(rng: Rng, root: string, maxTokens: number): ToolCall {
  const id = `toolu_01${rng.base62(22)}`;
  const path = `${root}/${rng.filePath()}`;
  const size = outputSize(rng, maxTokens);
  const run = (name: string, input: Record<string, unknown>, kind: ToolOutputKind): ToolCall =>
    ({ id, name, input, output: rng.toolOutput(size, kind) });
  switch (rng.pick(['Bash', 'Bash', 'Read', 'Read', 'Read', 'Edit', 'Grep', 'Glob', 'Write'] as const)) {
    case 'Bash': {
      const [command, description, kind] = rng.pick([
        ['npm test', 'Run the test suite', 'tests'],
        ['npx tsc -p . && node dist/test/index.js', 'Build and run the tests', 'tests'],
        ['ls -la src', 'List the source folder', 'listing'],
        [`git grep -n "${rng.ident()}"`, 'Find uses of the identifier', 'grep'],
        ['cat package.json', 'Show the package manifest', 'json'],
      ] as const);
      return run('Bash', { command, description }, kind);
    }
    case 'Read': return run('Read', { file_path: path }, 'file');
    case 'Grep': return run('Grep', { pattern: `${rng.ident()}\\(`, path: `${root}/src`, output_mode: 'content', '-n': true }, 'grep');
    case 'Glob': return run('Glob', { pattern: `src/**/*.${rng.pick(['ts', 'js', 'json'])}` }, 'listing');
    case 'Edit': {
      const input = { file_path: path, old_string: rng.code(rng.int(15, 60)), new_string: rng.code(rng.int(15, 80)) };
      const lead = `The file ${path} has been updated. Here is a snippet of the edited file:\n`;
      return { id, name: 'Edit', input, output: lead + rng.toolOutput(Math.max(1, Math.min(size, 120) - approxTokens(lead)), 'file') };
    }
    case 'Write': {
      const input = { file_path: path, content: rng.code(rng.int(80, 400)) };
      return { id, name: 'Write', input, output: `File created successfully at: ${path}` };
    }
  }
}

// Half the results are small (a short listing, a passing test), a third medium, the rest large.
// `max` is at least 100 (the agent checks), so every range is in order.
function outputSize(rng: Rng, max: number): number {
  const r = rng.next();
  if (r < 0.5) return rng.int(20, Math.max(20, Math.round(max * 0.1)));
  if (r < 0.85) return rng.int(Math.round(max * 0.1), Math.round(max * 0.5));
  return rng.int(Math.round(max * 0.5), max);
}
