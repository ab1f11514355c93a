/**
 * Argument checks shared by the TS facades (not exported from the package). Each names the calling function
 * (`fn`) and the argument, so a bad call fails with a TypeError (wrong kind of value) or a RangeError (right
 * kind, wrong size or value) before it reaches the native layer.
 */

/**
 * A kernel call checked once for both its sync and its Async function: the arguments for the native call,
 * and `finish`, run after the kernel, which checks what it reported (throwing its RangeError) and returns the
 * result.
 */
export interface PreparedCall<Args extends unknown[], Result = void> {
  args: Args;
  finish: () => Result;
}

/** The typed arrays the kernels take. */
type TypedArray = Float32Array | Float64Array | Uint16Array | Int32Array | Int8Array | Uint8Array;

interface TypedArrayType {
  readonly name: string;
  new (length: number): TypedArray;
}

/** An integer in [min, max]: TypeError for a non-integer (NaN, 1.5, a string), RangeError outside. */
export function checkInt(fn: string, name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new TypeError(`${fn}: ${name} must be an integer, got ${String(value)}`);
  if (value < min || value > max)
    throw new RangeError(`${fn}: ${name} must be in [${min}, ${max}], got ${value}`);
}

/** A dimension or count: an integer in [1, 2^31]. */
export function checkCount(fn: string, name: string, value: unknown): void {
  checkInt(fn, name, value, 1, 2 ** 31);
}

/** A finite number (NaN and ±Infinity are TypeErrors). */
export function checkFinite(fn: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${fn}: ${name} must be a finite number, got ${String(value)}`);
  }
}

/** A `type` array of at least `minLength` elements; an empty, detached buffer gets a hint saying so. */
export function checkArray(
  fn: string,
  name: string,
  value: unknown,
  type: TypedArrayType,
  minLength: number,
): void {
  if (!(value instanceof type)) {
    const article = /^[AEIOU]/.test(type.name) ? 'an' : 'a';
    throw new TypeError(`${fn}: ${name} must be ${article} ${type.name}`);
  }
  if (value.length < minLength) {
    const hint = value.length === 0 && value.buffer.byteLength === 0 ? ' (detached or transferred?)' : '';
    throw new RangeError(
      `${fn}: ${name} has ${value.length} elements${hint}, at least ${minLength} are needed`,
    );
  }
}

/** The output of a ternary GEMM: y (rows, cols) f32. */
export function checkGemmOutput(fn: string, y: unknown, rows: number, cols: number): void {
  if (!(y instanceof Float32Array)) throw new TypeError(`${fn}: y must be a Float32Array`);
  if (y.length < rows * cols)
    throw new RangeError(`${fn}: y has ${y.length} elements, ${rows} x ${cols} are needed`);
}

/**
 * `w` holds a PackedTernary's buffers (ternary.ts) with the right types: data (rows, colsPadded / 4) a
 * Uint8Array, rowScales (rows) a Float32Array. Their lengths are the caller's to check.
 */
export function checkPackedTernaryBuffers(
  fn: string,
  w: { readonly data: unknown; readonly rowScales: unknown } | null,
): void {
  if (
    typeof w !== 'object' ||
    w === null ||
    !(w.data instanceof Uint8Array) ||
    !(w.rowScales instanceof Float32Array)
  ) {
    throw new TypeError(`${fn}: w must be a PackedTernary (data: Uint8Array, rowScales: Float32Array)`);
  }
}

/**
 * A status buffer (2): `[bad rows, first bad row or -1]`, cleared before a run since the kernel only counts
 * into it. Without one the call gets a fresh buffer (a direct call still needs it to report bad rows).
 */
export function clearStatus(fn: string, status: Int32Array | undefined): Int32Array {
  if (status === undefined) return Int32Array.of(0, -1);
  checkArray(fn, 'status', status, Int32Array, 2);
  status[0] = 0;
  status[1] = -1;
  return status;
}
