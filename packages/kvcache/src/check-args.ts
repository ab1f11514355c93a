/** Argument checks shared by the public classes; each throws a TypeError/RangeError naming the argument. */

export function checkInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be in ${min}..${max}, got ${value}`);
  return value;
}

export function checkInt32Array(value: unknown, name: string): Int32Array {
  if (!(value instanceof Int32Array))
    throw new TypeError(`${name} must be an Int32Array, got ${describe(value)}`);
  return value;
}

/** Token ids: an array-like of int32 integers (an Int32Array passes without a scan). */
export function checkTokens(value: unknown, name: string): ArrayLike<number> {
  if (value instanceof Int32Array) return value;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as ArrayLike<unknown>).length !== 'number'
  ) {
    throw new TypeError(`${name} must be an array of token ids or an Int32Array, got ${describe(value)}`);
  }
  const tokens = value as ArrayLike<unknown>;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < -0x80000000 || t > 0x7fffffff) {
      throw new TypeError(`${name}[${i}] must be an int32 token id, got ${describe(t)}`);
    }
  }
  return tokens as ArrayLike<number>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
