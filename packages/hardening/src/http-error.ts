import { TernionError, type TernionErrorCode, type TernionErrorOptions } from '@ternion/contracts';

/** The `type` field of an OpenAI error body. Clients (the official SDKs) branch on the HTTP status, humans on this. */
export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | (string & {});

export interface HttpErrorOptions {
  type?: OpenAiErrorType;
  /** Machine-readable code, e.g. `'invalid_api_key'`, `'rate_limit_exceeded'`, `'context_length_exceeded'`. */
  code?: string | null;
  /** The request field at fault, e.g. `'max_tokens'` or `'messages[0].role'`; null when no single field is. */
  param?: string | null;
  /** Sent as `Retry-After` (whole seconds, rounded up) by the plugin's error handler. */
  retryAfterSeconds?: number;
  /** Extra response headers, e.g. `{ 'WWW-Authenticate': 'Bearer' }`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

const HTTP_ERROR_MARKER = Symbol.for('ternion.http-error');

/** An error that already knows its HTTP response: status, OpenAI `type`, `code` and `param`. Throw it from routes. */
export class HttpError extends Error {
  readonly status: number;
  /** Same as `status`, under the name fastify's and most Node tooling's default error handling read. */
  readonly statusCode: number;
  readonly type: OpenAiErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HttpError: status must be an integer in [400, 599], got ${String(status)}`);
    }
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.statusCode = status;
    this.type = options.type ?? defaultTypeForStatus(status);
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = { ...options.headers };
    // Non-enumerable, so it never shows up in logs or JSON.
    Object.defineProperty(this, HTTP_ERROR_MARKER, { value: true });
  }

  /** Works across several copies of this package (checks a `Symbol.for` marker, not the prototype chain). */
  static isInstance(value: unknown): value is HttpError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[HTTP_ERROR_MARKER] === true
    );
  }
}

export interface RetryLaterErrorOptions extends TernionErrorOptions {
  retryAfterSeconds: number;
}

/**
 * A TernionError for "not now, try again later": `OVERLOADED` (admission queue full), `ENGINE_UNAVAILABLE`
 * (circuit open), `RATE_LIMITED`, `SHUTTING_DOWN`. `retryAfterSeconds` becomes the `Retry-After` header.
 */
export class RetryLaterError extends TernionError {
  readonly retryAfterSeconds: number;

  constructor(code: TernionErrorCode, message: string, options: RetryLaterErrorOptions) {
    super(code, message, options);
    this.name = 'RetryLaterError';
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** `retryAfterSeconds` of any error that carries one (duck-typed so it works across package copies). */
export function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const value = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function defaultTypeForStatus(status: number): OpenAiErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

interface CodeMapping {
  status: number;
  type: OpenAiErrorType;
  code: string;
}

/**
 * TernionError code → HTTP response. Codes not listed are engine/internal faults (500). `ABORTED` maps to 499
 * (nginx's "client closed request"): the client is gone, so this status only ever reaches logs and metrics.
 */
const TERNION_CODE_TO_HTTP: Readonly<Record<string, CodeMapping>> = {
  INVALID_ARGUMENT: { status: 400, type: 'invalid_request_error', code: 'invalid_argument' },
  UNSUPPORTED: { status: 400, type: 'invalid_request_error', code: 'unsupported' },
  CONTEXT_OVERFLOW: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' },
  UNAUTHENTICATED: { status: 401, type: 'authentication_error', code: 'invalid_api_key' },
  NOT_FOUND: { status: 404, type: 'not_found_error', code: 'not_found' },
  RATE_LIMITED: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  ABORTED: { status: 499, type: 'invalid_request_error', code: 'client_closed_request' },
  OVERLOADED: { status: 503, type: 'server_error', code: 'overloaded' },
  ENGINE_UNAVAILABLE: { status: 503, type: 'server_error', code: 'engine_unavailable' },
  SHUTTING_DOWN: { status: 503, type: 'server_error', code: 'shutting_down' },
  KV_CACHE_FULL: { status: 503, type: 'server_error', code: 'kv_cache_full' },
  DISPOSED: { status: 503, type: 'server_error', code: 'shutting_down' },
  DEADLINE_EXCEEDED: { status: 504, type: 'server_error', code: 'deadline_exceeded' },
};

/** HTTP status for a TernionError code (500 for codes that mean an internal fault). */
export function httpStatusForCode(code: TernionErrorCode): number {
  return TERNION_CODE_TO_HTTP[code]?.status ?? 500;
}

/** What the request knows that an error does not, for a more useful message. */
export interface HttpErrorContext {
  /** The route's body limit in bytes (named in a 413). */
  bodyLimitBytes?: number;
  /** The request's `Content-Length`, when it sent one (named in a 413). */
  receivedBytes?: number;
}

/**
 * Normalises anything thrown into an HttpError: HttpError as is; TernionError by its code (message kept,
 * hint appended); fastify's own errors (schema validation → 400 naming the field, body too large → 413
 * naming the limit and the received size when `context` has them, unsupported media type → 415, bad JSON →
 * 400); any other error with a 4xx `statusCode` keeps it; the rest → 500 with a generic message (internal
 * details stay in the logs, not in the response).
 */
export function toHttpError(err: unknown, context: HttpErrorContext = {}): HttpError {
  if (HttpError.isInstance(err)) return err;
  if (TernionError.isInstance(err)) {
    const mapping = TERNION_CODE_TO_HTTP[err.code];
    const retryAfterSeconds = retryAfterOf(err);
    if (mapping === undefined) {
      return new HttpError(500, 'The server had an error while processing your request.', {
        type: 'server_error',
        code: 'internal_error',
        cause: err,
      });
    }
    const message = err.hint ? `${err.message} (${err.hint})` : err.message;
    return new HttpError(mapping.status, message, {
      type: mapping.type,
      code: mapping.code,
      param: paramOf(err),
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      cause: err,
    });
  }
  const fastifyError = fromFastifyError(err, context);
  if (fastifyError) return fastifyError;
  return new HttpError(500, 'The server had an error while processing your request.', {
    type: 'server_error',
    code: 'internal_error',
    cause: err,
  });
}

function paramOf(err: object): string | null {
  const param = (err as { param?: unknown }).param;
  return typeof param === 'string' ? param : null;
}

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: unknown;
  validationContext?: unknown;
}

interface AjvErrorLike {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function fromFastifyError(err: unknown, context: HttpErrorContext): HttpError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as FastifyLikeError;
  const message = typeof e.message === 'string' ? e.message : 'Invalid request';
  if (Array.isArray(e.validation)) {
    const first = (e.validation[0] ?? {}) as AjvErrorLike;
    const param = ajvParam(first);
    const where = typeof e.validationContext === 'string' ? e.validationContext : 'body';
    const detail = first.message ?? 'is invalid';
    const text = param ? `Invalid ${where} field '${param}': ${detail}` : `Invalid ${where}: ${detail}`;
    return new HttpError(400, text, { code: 'invalid_value', param, cause: err });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, bodyTooLargeMessage(context), { code: 'request_too_large', cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, `${message}. Send 'Content-Type: application/json'.`, {
        code: 'unsupported_media_type',
        cause: err,
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, `Could not parse the JSON body: ${message}`, {
        code: 'invalid_json',
        cause: err,
      });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, message, { code: 'invalid_content_length', cause: err });
    default:
      break;
  }
  // Body-parser errors from secure-json-parse carry a 400 statusCode but no FST code.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HttpError(e.statusCode, message, { cause: err });
  }
  return undefined;
}

function bodyTooLargeMessage({ bodyLimitBytes, receivedBytes }: HttpErrorContext): string {
  const known = (n: number | undefined): n is number =>
    typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  // Without Content-Length (chunked upload) fastify stops reading at the limit: the size is only "more".
  const received = known(receivedBytes) ? `${receivedBytes} bytes` : 'more than the limit';
  if (!known(bodyLimitBytes)) return `Request body is too large (${received}).`;
  return `Request body is too large: ${received}; this server accepts at most ${bodyLimitBytes} bytes.`;
}

/** ajv's `/messages/0/role` (+ `missingProperty`) → `messages[0].role`, the notation OpenAI uses in `param`. */
function ajvParam(error: AjvErrorLike): string | null {
  const segments = (error.instancePath ?? '')
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = error.params?.missingProperty ?? error.params?.additionalProperty;
  if (typeof extra === 'string') segments.push(extra);
  if (segments.length === 0) return null;
  let out = '';
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/** OpenAI's error body: `{ error: { message, type, param, code } }`. Accepts anything thrown. */
export function openAiErrorBody(err: unknown): {
  error: { message: string; type: string; param: string | null; code: string | null };
} {
  const http = toHttpError(err);
  return { error: { message: http.message, type: http.type, param: http.param, code: http.code } };
}
