import type { Tokenizer } from './tokenizer.js';

export interface StreamingDetokenizerOptions {
  /** Render control/unknown tokens as their text. Default false. */
  special?: boolean;
}

/**
 * Turns a stream of token ids into text chunks that only ever contain complete characters: a character
 * whose UTF-8 bytes are spread over several tokens (byte-fallback pieces of an emoji, say) is emitted
 * once its last byte arrives. The concatenated chunks equal the UTF-8 decoding of the concatenated
 * pieces (llama.cpp's per-token `llama_token_to_piece`, as a server streams them); invalid bytes become
 * U+FFFD exactly as a one-shot decode would make them.
 */
export class StreamingDetokenizer {
  // ignoreBOM keeps a leading U+FEFF as text (a plain decoder would drop it from the first chunk).
  private decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private readonly special: boolean;

  constructor(
    private readonly tokenizer: Tokenizer,
    options: StreamingDetokenizerOptions = {},
  ) {
    if (options.special !== undefined && typeof options.special !== 'boolean') {
      throw new TypeError(`options.special must be a boolean, got ${typeof options.special}`);
    }
    this.special = options.special ?? false;
  }

  /** Feeds one token; returns the text that became complete (often '', never half a character). */
  push(id: number): string {
    const piece = this.tokenizer.tokenToPiece(id, { special: this.special });
    return this.decoder.decode(piece, { stream: true });
  }

  /** Feeds several tokens; returns the text that became complete. */
  pushAll(ids: ArrayLike<number>): string {
    let text = '';
    for (let i = 0; i < ids.length; i++) text += this.push(ids[i] as number);
    return text;
  }

  /** Ends the stream: bytes of an unfinished character come out as U+FFFD. The detokenizer can be reused. */
  flush(): string {
    return this.decoder.decode();
  }

  /** Drops any buffered partial character. */
  reset(): void {
    this.decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  }
}
