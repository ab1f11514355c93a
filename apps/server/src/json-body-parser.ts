import { decodeUtf8Strict, HttpError } from '@ternion/hardening';

/**
 * Parses a JSON request body. Stricter than fastify's default in two ways a model server cares about:
 * invalid UTF-8 is a 400 `invalid_utf8` (hardening's decodeUtf8Strict; the default parser would turn it into U+FFFD and the prompt would silently
 * change), and a `__proto__` key is a 400 (prototype poisoning), as fastify's onProtoPoisoning 'error'.
 */
export function parseJsonBody(body: Buffer): unknown {
  const text = decodeUtf8Strict(body);
  if (text.trim().length === 0) {
    throw new HttpError(400, 'The request body is empty; send a JSON object', { code: 'invalid_json' });
  }
  try {
    return JSON.parse(text, (key, value) => {
      if (key === '__proto__')
        throw new HttpError(400, "The key '__proto__' is not allowed", { code: 'invalid_json' });
      return value;
    });
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, `The request body is not valid JSON: ${(e as Error).message}`, {
      code: 'invalid_json',
    });
  }
}
