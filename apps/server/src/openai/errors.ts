import { HttpError } from '@ternion/hardening';

/** A 400 naming the request field that is wrong (`param`, as OpenAI reports it). */
export function badRequest(param: string, message: string, code: string = 'invalid_value'): HttpError {
  return new HttpError(400, message, { type: 'invalid_request_error', param, code });
}

/**
 * 400 for the first id of `ids` (the request field `name`) outside the vocabulary (the schema already made them
 * non-negative integers). `param` is the error's param: the field, or one naming the bad element.
 */
export function checkTokenIds(
  ids: readonly number[],
  vocabSize: number,
  name: string,
  param: (bad: number) => string = () => name,
): void {
  const bad = ids.findIndex((id) => id >= vocabSize);
  if (bad >= 0)
    throw badRequest(param(bad), `${name}[${bad}]: token id ${ids[bad]} is not in [0, ${vocabSize})`);
}
