import { HttpError } from './http-error.js';

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

/** The one error code for a request body that is not UTF-8 (the plugin's parser and the server's use it). */
export const INVALID_UTF8_CODE = 'invalid_utf8';

/**
 * Decodes a request body as UTF-8, throwing a 400 `invalid_utf8` HttpError for any invalid byte sequence.
 * Node's default decoding replaces bad bytes with U+FFFD, which would silently change a prompt; a model server
 * must refuse instead. A leading BOM is dropped, as `TextDecoder` does by default.
 */
export function decodeUtf8Strict(body: Uint8Array): string {
  if (!(body instanceof Uint8Array))
    throw new TypeError('decodeUtf8Strict: body must be a Uint8Array (or Buffer)');
  try {
    return fatalDecoder.decode(body);
  } catch {
    throw new HttpError(400, 'The request body is not valid UTF-8.', { code: INVALID_UTF8_CODE });
  }
}
