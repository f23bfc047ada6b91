// The oracle bound: for each request, the tokens of its prompt that no earlier request to the same
// model shares as a prefix. A cache holds only what was processed before: earlier prompts and the
// answers generated after them (a slot keeps both, and the next turn repeats the answer), so the
// oracle matches against each earlier prompt followed by its answer. "Prompt tokens evaluated ÷
// oracle" then says how far a configuration is from perfect reuse, and cannot go below 1.
import { anthropicToOpenAI } from '../src/dialects/anthropic-to-openai.js';
import type { Dialect } from './trace.js';

/** One request for the oracle: its prompt, and what a cache holds after it (prompt + answer). */
export interface OracleInput { prompt: readonly number[]; processed: readonly number[] }

/** Tokenizes prompts exactly as a llama-server does for a chat request. */
export interface PromptTokenizer {
  /** The prompt's tokens, and the prompt followed by the generated `answer` (the prompt alone without one). */
  tokens(dialect: Dialect, body: Record<string, unknown>, answer?: string): Promise<OracleInput>;
}

/**
 * Uses a llama-server's own /apply-template and /tokenize, the same steps its chat route takes
 * (oaicompat_chat_params_parse, then tokenization with special tokens added and parsed).
 * Anthropic bodies are converted the way llama-server converts them first.
 */
export function llamaServerTokenizer(url: string): PromptTokenizer {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body), signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`oracle: ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  return {
    async tokens(dialect, body, answer = '') {
      const chat = dialect === 'anthropic' ? anthropicToOpenAI(body) : body;
      const { prompt } = await post('/apply-template', chat) as { prompt: string };
      // The rendered prompt ends with the generation prompt, so the answer follows it directly,
      // as it does in the slot and in the next turn's prompt. Only the prompt is parsed for special
      // tokens: generated text is text.
      const tokenize = async (content: string) =>
        (await post('/tokenize', { content, add_special: true, parse_special: true }) as { tokens: number[] }).tokens;
      const tokens = await tokenize(prompt);
      return { prompt: tokens, processed: answer ? await tokenize(prompt + answer) : tokens };
    },
  };
}

interface TrieNode { children: Map<number, TrieNode> }

/** All token sequences seen so far, for longest-common-prefix queries. Grows with distinct tokens only. */
export class PrefixTrie {
  private readonly root: TrieNode = { children: new Map() };

  /** The length of the longest prefix `tokens` shares with any sequence added so far. */
  match(tokens: readonly number[]): number {
    let node = this.root;
    let shared = 0;
    for (const token of tokens) {
      const next = node.children.get(token);
      if (!next) break;
      node = next;
      shared++;
    }
    return shared;
  }

  /** Adds a sequence. */
  add(tokens: readonly number[]): void {
    let node = this.root;
    for (const token of tokens) {
      let next = node.children.get(token);
      if (!next) {
        next = { children: new Map() };
        node.children.set(token, next);
      }
      node = next;
    }
  }
}

/**
 * Oracle counts for requests in send order (one model): each prompt's length less the longest
 * prefix it shares with what an earlier request left in a cache, and at least 1, since
 * llama-server always evaluates the last prompt token to get logits even on a full match.
 */
export function oracleCounts(requests: readonly OracleInput[]): number[] {
  const trie = new PrefixTrie();
  return requests.map(({ prompt, processed }) => {
    const count = Math.max(1, prompt.length - trie.match(prompt));
    trie.add(prompt);
    trie.add(processed);
    return count;
  });
}
