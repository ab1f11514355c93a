import { GgufError } from './errors.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A little-endian cursor over a file's bytes that never reads past the end: every read names what it was
 * reading (`what`, e.g. "key #3 (general.name) value") so a truncated file says where it broke.
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly name: string;
  private readonly view: DataView;
  pos = 0;

  constructor(bytes: Uint8Array, name: string) {
    this.bytes = bytes;
    this.name = name;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  invalid(message: string): GgufError {
    return new GgufError('GGUF_INVALID', `GGUF file ${this.name}: ${message}`);
  }

  unsupported(message: string, hint?: string): GgufError {
    return new GgufError(
      'GGUF_UNSUPPORTED',
      `GGUF file ${this.name}: ${message}`,
      hint === undefined ? {} : { hint },
    );
  }

  /** Throws unless `n` more bytes exist. */
  need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new GgufError(
        'GGUF_INVALID',
        `GGUF file ${this.name} is truncated: reading ${what} at offset ${this.pos} needs ${n} bytes, ` +
          `but the file ends ${this.remaining} bytes later (file size ${this.bytes.byteLength})`,
        { hint: 'the file is incomplete; download or export it again' },
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 count, offset or size as a number; more than 2^53 - 1 is an error (no file is that large). */
  u64Number(what: string): number {
    const v = this.u64(what);
    if (v > MAX_SAFE) throw this.invalid(`${what} is ${v}, more than 2^53 - 1`);
    return Number(v);
  }

  /** A GGUF string: u64 byte length, then UTF-8 bytes (no terminator). The length is checked before use. */
  string(what: string): string {
    const start = this.pos;
    const length = this.u64(`${what} length`);
    if (length > BigInt(this.remaining)) {
      throw this.invalid(
        `${what} at offset ${start} claims ${length} bytes, but only ${this.remaining} bytes remain (truncated or corrupt file)`,
      );
    }
    const n = Number(length);
    const raw = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8.decode(raw);
    } catch (cause) {
      throw new GgufError(
        'GGUF_INVALID',
        `GGUF file ${this.name}: ${what} at offset ${start} is not valid UTF-8`,
        {
          cause,
        },
      );
    }
  }

  /** A DataView positioned at the cursor over `n` checked bytes, then advances past them. */
  take(n: number, what: string): DataView {
    this.need(n, what);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
    this.pos += n;
    return v;
  }
}
