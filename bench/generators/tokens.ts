// Approximate token counts of generated text, calibrated once against the bench model's tokenizer
// (llama.cpp's models/ggml-vocab-llama-spm.gguf, a 32000-token SentencePiece vocabulary).
// Generators size everything with these; the real count is only known to the server.

/** Tokens per word piece under the bench model's llama-spm vocabulary (see approxTokens). */
export const TOKENS_PER_WORD = 1.07;

/**
 * Approximate token count: word pieces × 1.07. A piece is a lowercase run with an optional
 * capital, a run of capitals, a digit, a run of punctuation, a newline, a tab or a run of
 * spaces, because SentencePiece splits identifiers at case changes and digits one by one and
 * gives newlines and indentation tokens of their own: whitespace-separated words (× 1.3) are
 * right for prose but count code 2x and JSON 4x too low. Measured against the llama-spm
 * tokenizer on random.ts's text of every kind: within 10% (prose: 1.3 tokens per plain word).
 */
export function approxTokens(text: string): number {
  return Math.round(countWords(text) * TOKENS_PER_WORD);
}

const WORD = /[A-Z]?[a-z]+|[A-Z]+|\d|[^\sA-Za-z\d]+|[\n\t]| {2,}/g;

/** Word pieces in `text` (what approxTokens multiplies). */
export function countWords(text: string): number {
  let n = 0;
  WORD.lastIndex = 0;
  while (WORD.exec(text)) n++;
  return n;
}

/** The longest prefix of `text`, cut between word pieces, whose approxTokens is at most `tokens`. */
export function truncateTokens(text: string, tokens: number): string {
  return truncateWords(text, Math.floor(tokens / TOKENS_PER_WORD));
}

function truncateWords(text: string, maxWords: number): string {
  let n = 0;
  let end = 0;
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m; m = WORD.exec(text)) {
    if (++n > maxWords) break;
    end = m.index + m[0].length;
  }
  // Pieces never split a word (only at case changes, where the tokenizer splits too), so the cut
  // needs no backing off to a space; code would lose a whole `a.b(c,` chunk if it did.
  return n <= maxWords ? text : text.slice(0, end).trimEnd();
}

/**
 * Joins pieces from `next` with `separator` until `tokens` is spent, cutting the piece that does
 * not fit: the text never exceeds `tokens` and falls short by at most a word. Counts words, not
 * rounded tokens, so the sizes add up exactly (pieces must not merge across the separator).
 */
export function fillTokens(tokens: number, separator: string, next: () => string): string {
  const maxWords = Math.floor(tokens / TOKENS_PER_WORD);
  const sepWords = countWords(separator);
  const pieces: string[] = [];
  let used = 0;
  while (used < maxWords) {
    const gap = pieces.length > 0 ? sepWords : 0;
    const piece = next();
    const words = countWords(piece);
    if (used + gap + words > maxWords) {
      const cut = used + gap < maxWords ? truncateWords(piece, maxWords - used - gap) : '';
      if (cut) pieces.push(cut);
      break;
    }
    pieces.push(piece);
    used += gap + words;
  }
  return pieces.join(separator);
}
