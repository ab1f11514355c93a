import { TernionError } from '@ternion/contracts';

/** The slice of a GGUF file the weight loader needs: named tensors with a type, a shape and bytes. */
export interface TensorView {
  readonly name: string;
  /** GGUF type name: 'F32', 'F16', 'BF16', 'Q8_0', 'TQ1_0', 'TQ2_0', 'I2_S', ... */
  readonly typeName: string;
  /** ne0 first, as GGUF stores it: a matrix of `rows` rows of `cols` is [cols, rows]. */
  readonly shape: readonly number[];
  data(): Uint8Array;
}

export interface TensorSource {
  readonly path: string;
  tensor(name: string): TensorView | undefined;
}

export function requireTensor(src: TensorSource, name: string): TensorView {
  const t = src.tensor(name);
  if (t === undefined) {
    throw new TernionError('MODEL_INVALID', `${src.path}: required tensor '${name}' is missing`, {
      hint: 'the file may be for another architecture, or truncated by a converter',
    });
  }
  return t;
}

export function expectShape(src: TensorSource, t: TensorView, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new TernionError(
      'MODEL_INVALID',
      `${src.path}: tensor '${t.name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
  }
}

/** bf16 bits → f32: the high half of an IEEE single. */
function bf16ToF32(bits: number): number {
  const u = new Uint32Array([bits << 16]);
  return new Float32Array(u.buffer)[0]!;
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A small float tensor (norm weights, scales) as a fresh Float32Array. */
export function toFloat32(src: TensorSource, t: TensorView): Float32Array {
  const bytes = t.data();
  const n = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.typeName) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(i * 2, true));
      return out;
    default:
      throw new TernionError(
        'MODEL_INVALID',
        `${src.path}: tensor '${t.name}' has type ${t.typeName}; expected F32, F16 or BF16 for this parameter`,
      );
  }
}
