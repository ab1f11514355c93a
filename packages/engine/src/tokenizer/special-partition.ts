import { TokenAttr, type Vocab } from './vocab.js';

/** A piece of the input: raw text still to tokenize, or a special token already recognised. */
export type Fragment = { readonly text: string } | { readonly token: number };

/**
 * Splits special-token texts out of `text` before tokenizing, as llama.cpp's `tokenizer_st_partition`:
 * special tokens are tried longest first, each one cutting every raw fragment at all its occurrences.
 * Control and unknown tokens take part only with `parseSpecial`; user-defined tokens always do.
 * (llama.cpp's per-model lstrip/rstrip attributes are not in GGUF files and are not applied.)
 */
export function partitionSpecial(vocab: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [{ text }] : [];
  for (const id of vocab.specialIds) {
    if (!parseSpecial && vocab.attr(id) & (TokenAttr.Control | TokenAttr.Unknown)) continue;
    const special = vocab.texts[id] as string;
    if (!fragments.some((f) => 'text' in f && f.text.includes(special))) continue;
    const split: Fragment[] = [];
    for (const fragment of fragments) {
      if (!('text' in fragment)) {
        split.push(fragment);
        continue;
      }
      let from = 0;
      for (let at = fragment.text.indexOf(special); at !== -1; at = fragment.text.indexOf(special, from)) {
        if (at > from) split.push({ text: fragment.text.slice(from, at) });
        split.push({ token: id });
        from = at + special.length;
      }
      if (from < fragment.text.length) split.push({ text: fragment.text.slice(from) });
    }
    fragments = split;
  }
  return fragments;
}
