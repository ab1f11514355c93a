const MARKER = Symbol.for('ternion.error');

/** Error codes every package shares. A code never changes meaning once published. */
export type TernionErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED'
  | 'NATIVE_LOAD_FAILED'
  | 'GGUF_INVALID'
  | 'GGUF_UNSUPPORTED'
  | 'MODEL_INVALID'
  | 'TOKENIZER_INVALID'
  | 'KV_CACHE_FULL'
  | 'CONTEXT_OVERFLOW'
  | 'ABORTED'
  | 'DISPOSED'
  | 'INTERNAL'
  | (string & {});

export interface TernionErrorOptions {
  cause?: unknown;
  /** What the user can do about it. */
  hint?: string;
}

/**
 * Base error of every Ternion package. Recognise it with `TernionError.isInstance(e)`, which works across
 * several copies of this package in one process (it checks a `Symbol.for` marker, not the prototype chain).
 */
export class TernionError extends Error {
  readonly code: TernionErrorCode;
  readonly hint: string | undefined;

  constructor(code: TernionErrorCode, message: string, options: TernionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TernionError';
    this.code = code;
    this.hint = options.hint;
    Object.defineProperty(this, MARKER, { value: true });
  }

  static isInstance(value: unknown): value is TernionError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}
