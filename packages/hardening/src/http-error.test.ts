import { TernionError } from '@ternion/contracts';
import { describe, expect, it } from 'vitest';
import {
  HttpError,
  httpStatusForCode,
  openAiErrorBody,
  RetryLaterError,
  retryAfterOf,
  toHttpError,
} from './http-error.js';

describe('HttpError', () => {
  it('derives the OpenAI type from the status unless given', () => {
    expect(new HttpError(400, 'x').type).toBe('invalid_request_error');
    expect(new HttpError(401, 'x').type).toBe('authentication_error');
    expect(new HttpError(404, 'x').type).toBe('not_found_error');
    expect(new HttpError(413, 'x').type).toBe('invalid_request_error');
    expect(new HttpError(429, 'x').type).toBe('rate_limit_error');
    expect(new HttpError(503, 'x').type).toBe('server_error');
    expect(new HttpError(400, 'x', { type: 'custom' }).type).toBe('custom');
  });

  it('is recognised across copies by its marker', () => {
    expect(HttpError.isInstance(new HttpError(400, 'x'))).toBe(true);
    expect(HttpError.isInstance(new Error('x'))).toBe(false);
    expect(HttpError.isInstance(undefined)).toBe(false);
  });

  it('rejects a status that is not an HTTP error status', () => {
    expect(() => new HttpError(200, 'x')).toThrow(RangeError);
    expect(() => new HttpError(600, 'x')).toThrow(/status must be an integer in \[400, 599\]/);
  });
});

describe('toHttpError / openAiErrorBody', () => {
  it('maps TernionError codes to statuses, OpenAI types and codes', () => {
    const cases: [string, number, string, string][] = [
      ['INVALID_ARGUMENT', 400, 'invalid_request_error', 'invalid_argument'],
      ['CONTEXT_OVERFLOW', 400, 'invalid_request_error', 'context_length_exceeded'],
      ['UNAUTHENTICATED', 401, 'authentication_error', 'invalid_api_key'],
      ['NOT_FOUND', 404, 'not_found_error', 'not_found'],
      ['RATE_LIMITED', 429, 'rate_limit_error', 'rate_limit_exceeded'],
      ['OVERLOADED', 503, 'server_error', 'overloaded'],
      ['ENGINE_UNAVAILABLE', 503, 'server_error', 'engine_unavailable'],
      ['SHUTTING_DOWN', 503, 'server_error', 'shutting_down'],
      ['DEADLINE_EXCEEDED', 504, 'server_error', 'deadline_exceeded'],
    ];
    for (const [code, status, type, openAiCode] of cases) {
      const http = toHttpError(new TernionError(code, `m-${code}`, { hint: 'do this' }));
      expect([http.status, http.type, http.code]).toEqual([status, type, openAiCode]);
      expect(http.message).toBe(`m-${code} (do this)`);
      expect(httpStatusForCode(code)).toBe(status);
    }
  });

  it('hides internal errors behind a generic 500', () => {
    for (const err of [
      new TernionError('GGUF_INVALID', '/secret/path.gguf is bad'),
      new Error('stack detail'),
      'str',
    ]) {
      const body = openAiErrorBody(err);
      expect(body).toEqual({
        error: {
          message: 'The server had an error while processing your request.',
          type: 'server_error',
          param: null,
          code: 'internal_error',
        },
      });
    }
    expect(httpStatusForCode('INTERNAL')).toBe(500);
  });

  it('carries retryAfterSeconds from RetryLaterError', () => {
    const err = new RetryLaterError('OVERLOADED', 'busy', { retryAfterSeconds: 7 });
    expect(toHttpError(err).retryAfterSeconds).toBe(7);
    expect(retryAfterOf(err)).toBe(7);
    expect(retryAfterOf({ retryAfterSeconds: -1 })).toBeUndefined();
    expect(retryAfterOf(null)).toBeUndefined();
  });

  it("names the field of fastify's schema validation errors", () => {
    const validation = (instancePath: string, params: Record<string, unknown> = {}) =>
      Object.assign(new Error('body/x must be integer'), {
        statusCode: 400,
        code: 'FST_ERR_VALIDATION',
        validationContext: 'body',
        validation: [{ instancePath, keyword: 'type', params, message: 'must be integer' }],
      });
    expect(toHttpError(validation('/max_tokens')).param).toBe('max_tokens');
    expect(toHttpError(validation('/messages/0/role')).param).toBe('messages[0].role');
    expect(toHttpError(validation('/messages/2', { missingProperty: 'content' })).param).toBe(
      'messages[2].content',
    );
    expect(toHttpError(validation('', { missingProperty: 'model' })).param).toBe('model');
    expect(toHttpError(validation('/logit_bias/a~1b')).param).toBe('logit_bias.a/b');
    const body = openAiErrorBody(validation('/max_tokens'));
    expect(body.error).toEqual({
      message: "Invalid body field 'max_tokens': must be integer",
      type: 'invalid_request_error',
      param: 'max_tokens',
      code: 'invalid_value',
    });
  });

  it("maps fastify's body errors to 413 / 415 / 400", () => {
    const fst = (code: string, statusCode: number, message = 'm') =>
      Object.assign(new Error(message), { code, statusCode });
    expect(toHttpError(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413)).status).toBe(413);
    expect(toHttpError(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).status).toBe(415);
    expect(toHttpError(fst('FST_ERR_CTP_INVALID_JSON_BODY', 400)).code).toBe('invalid_json');
    expect(toHttpError(fst('FST_ERR_CTP_EMPTY_JSON_BODY', 400)).status).toBe(400);
    expect(toHttpError(fst('SOMETHING', 400, 'Unexpected token')).status).toBe(400);
    expect(toHttpError(fst('SOMETHING', 502)).status).toBe(500);
  });

  it('a 413 names the limit and the received size when the request context has them', () => {
    const tooLarge = Object.assign(new Error('Request body is too large'), {
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      statusCode: 413,
    });
    const full = toHttpError(tooLarge, { bodyLimitBytes: 1024, receivedBytes: 5000 });
    expect(full.status).toBe(413);
    expect(full.code).toBe('request_too_large');
    expect(full.message).toBe(
      'Request body is too large: 5000 bytes; this server accepts at most 1024 bytes.',
    );
    expect(toHttpError(tooLarge, { bodyLimitBytes: 1024 }).message).toBe(
      'Request body is too large: more than the limit; this server accepts at most 1024 bytes.',
    );
    expect(toHttpError(tooLarge).message).toMatch(/too large/);
  });
});
