import { TernionError, type TernionErrorOptions } from '@ternion/contracts';

/** Why a GGUF file was refused: it is broken (`GGUF_INVALID`) or valid but beyond Ternion (`GGUF_UNSUPPORTED`). */
export type GgufErrorCode = 'GGUF_INVALID' | 'GGUF_UNSUPPORTED';

/**
 * Every problem found in a GGUF file. The message always names the file and the field (key, tensor, header
 * slot) so a user can tell a truncated download from a model Ternion does not run.
 */
export class GgufError extends TernionError {
  declare readonly code: GgufErrorCode;

  constructor(code: GgufErrorCode, message: string, options: TernionErrorOptions = {}) {
    super(code, message, options);
    this.name = 'GgufError';
  }
}
