const utf8 = new TextEncoder();

/** A growable little-endian byte buffer for GGUF headers (metadata and tensor infos, not tensor data). */
export class ByteWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;

  /** Makes room for n more bytes. It may swap `buf`/`view`: read them only after calling it. */
  private ensure(n: number): void {
    if (this.length + n <= this.buf.byteLength) return;
    const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Claims n bytes and returns their offset. */
  private reserve(n: number): number {
    this.ensure(n);
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: bigint | number): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  i64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, v, true);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.byteLength);
    this.buf.set(b, at);
  }
  /** GGUF string: u64 byte length, then the UTF-8 bytes (encoded in place: vocabularies have 100k+ strings). */
  string(s: string): void {
    this.ensure(8 + 3 * s.length); // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const { written } = utf8.encodeInto(s, this.buf.subarray(this.length + 8));
    this.view.setBigUint64(this.length, BigInt(written), true);
    this.length += 8 + written;
  }

  /** Zero bytes up to the next multiple of `alignment`. */
  pad(alignment: number): void {
    const rem = this.length % alignment;
    if (rem !== 0) this.reserve(alignment - rem); // reserve() hands out zeroed bytes: the buffer only grows.
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
