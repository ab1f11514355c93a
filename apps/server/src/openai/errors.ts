import { HttpError } from '@ternion/hardening';

/** A 400 naming the request field that is wrong (`param`, as OpenAI reports it). */
export function badRequest(param: string, message: string, code: string = 'invalid_value'): HttpError {
  return new HttpError(400, message, { type: 'invalid_request_error', param, code });
}
