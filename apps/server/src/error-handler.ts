import { HttpError } from '@ternion/hardening';
import { fieldExpectations } from './openai/schemas.js';

/** `/messages/0/role` → `messages[0].role`, the way OpenAI names fields in `param`. */
export function paramFromPath(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter((p) => p.length > 0);
  if (missing !== undefined) parts.push(missing);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

export interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * fastify's `schemaErrorFormatter`: a 400 naming the first field that failed the body schema, worded for
 * humans (hardening's error handler sends an HttpError as it is).
 */
export function validationError(errors: readonly AjvError[]): HttpError {
  const first = errors[0]!;
  // ajv reports an anyOf's branch errors first and the anyOf itself last; the anyOf names the field,
  // the first branch (the non-null one of a nullable field) says what was expected.
  const outer = errors.find((e) => e.keyword === 'anyOf') ?? first;
  const param = paramFromPath(outer.instancePath, first.params.missingProperty as string | undefined);
  if (param === '' || (first.instancePath === '' && first.keyword === 'type')) {
    return new HttpError(400, 'The request body must be a JSON object', { code: 'invalid_body' });
  }
  const leaf = param.replace(/\[\d+\]/g, '').replace(/^.*\./, '');
  let message: string;
  if (first.keyword === 'required') message = `Missing required parameter: '${param}'`;
  else if (outer.keyword === 'anyOf' && fieldExpectations[leaf] !== undefined) {
    message = `Invalid type for '${param}': expected ${fieldExpectations[leaf]}`;
  } else if (first.keyword === 'enum') {
    message = `Invalid value for '${param}': must be one of ${JSON.stringify(first.params.allowedValues)}`;
  } else message = `Invalid value for '${param}': ${first.message ?? 'invalid'}`;
  return new HttpError(400, message, {
    param,
    code: first.keyword === 'required' ? 'missing_required_parameter' : 'invalid_value',
  });
}
