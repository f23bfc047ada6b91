// The oracle bound: for each request, the tokens of its prompt that no earlier request to the same
// model shares as a prefix. No cache can evaluate fewer (a cache holds only what was sent before),
// so "prompt tokens evaluated ÷ oracle" says how far a configuration is from perfect reuse.
import { anthropicToOpenAI } from '../src/dialects/anthropic-to-openai.js';
import type { Dialect } from './trace.js';

/** Tokenizes prompts exactly as a llama-server does for a chat request. */
export interface PromptTokenizer {
  tokens(dialect: Dialect, body: Record<string, unknown>): Promise<number[]>;
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
    async tokens(dialect, body) {
      const chat = dialect === 'anthropic' ? anthropicToOpenAI(body) : body;
      const { prompt } = await post('/apply-template', chat) as { prompt: string };
      const { tokens } = await post('/tokenize', { content: prompt, add_special: true, parse_special: true }) as { tokens: number[] };
      return tokens;
    },
  };
}

interface TrieNode { children: Map<number, TrieNode> }

/** All token sequences seen so far, for longest-common-prefix queries. Grows with distinct tokens only. */
export class PrefixTrie {
  private readonly root: TrieNode = { children: new Map() };

  /** Adds a sequence; returns the length of the longest prefix it shares with any earlier one. */
  insert(tokens: readonly number[]): number {
    let node = this.root;
    let shared = 0;
    let matching = true;
    for (const token of tokens) {
      let next = node.children.get(token);
      if (next) {
        if (matching) shared++;
      } else {
        matching = false;
        next = { children: new Map() };
        node.children.set(token, next);
      }
      node = next;
    }
    return shared;
  }
}

/**
 * Oracle counts for prompts in send order (one model): each is its length less the longest
 * prefix an earlier prompt shares, and at least 1, since llama-server always evaluates the last
 * prompt token to get logits even on a full match.
 */
export function oracleCounts(prompts: readonly (readonly number[])[]): number[] {
  const trie = new PrefixTrie();
  return prompts.map((tokens) => Math.max(1, tokens.length - trie.insert(tokens)));
}
