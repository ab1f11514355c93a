const utf8 = new TextEncoder();

/** A growable little-endian byte buffer for GGUF headers (metadata and tensor infos, not tensor data). */
export class ByteWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.buf.byteLength * 2, at + n));
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length += n;
    return at;
  }

  u8(v: number): void {
    this.view.setUint8(this.reserve(1), v);
  }
  i8(v: number): void {
    this.view.setInt8(this.reserve(1), v);
  }
  u16(v: number): void {
    this.view.setUint16(this.reserve(2), v, true);
  }
  i16(v: number): void {
    this.view.setInt16(this.reserve(2), v, true);
  }
  u32(v: number): void {
    this.view.setUint32(this.reserve(4), v, true);
  }
  i32(v: number): void {
    this.view.setInt32(this.reserve(4), v, true);
  }
  f32(v: number): void {
    this.view.setFloat32(this.reserve(4), v, true);
  }
  f64(v: number): void {
    this.view.setFloat64(this.reserve(8), v, true);
  }
  u64(v: bigint | number): void {
    this.view.setBigUint64(this.reserve(8), BigInt(v), true);
  }
  i64(v: bigint): void {
    this.view.setBigInt64(this.reserve(8), v, true);
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.reserve(b.byteLength));
  }
  /** GGUF string: u64 byte length, then the UTF-8 bytes. */
  string(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
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
