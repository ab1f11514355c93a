import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface ApiKeyAuthOptions {
  /** Plain API keys. They are hashed at construction; the plain text is not kept. */
  keys?: string[];
  /**
   * A file of keys, one per line. Blank lines and lines starting with `#` are ignored. A line
   * `sha256:<64 hex digits>` is the digest of a key (so the file need not hold secrets); any other line is a
   * plain key, hashed at load. The `sha256:` prefix is required for digests because a plain key may itself be
   * 64 hex digits (`openssl rand -hex 32`), and guessing would be a security bug either way.
   */
  keysFile?: string;
}

export type AuthResult = { ok: true; keyId: string } | { ok: false; reason: string };

/** Key id reported when authentication is disabled (no keys configured). */
export const ANONYMOUS_KEY_ID = 'anonymous';

const DIGEST_LINE = /^sha256:([0-9a-fA-F]{64})$/;
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Bearer-token API keys. Only sha256 digests are held in memory; `check` hashes the presented token and
 * compares it with every stored digest using `crypto.timingSafeEqual` (no early exit), so neither the
 * comparison nor the loop reveals how much of a key matched or which key it was. Digests have a fixed length,
 * so the length check `timingSafeEqual` needs never depends on the secret.
 */
export class ApiKeyAuth {
  private digests: Buffer[] = [];
  private readonly keysFile: string | undefined;
  private readonly optionKeys: readonly string[];

  constructor(options: ApiKeyAuthOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('ApiKeyAuth: options must be an object');
    const { keys = [], keysFile } = options;
    if (!Array.isArray(keys)) throw new TypeError('ApiKeyAuth: options.keys must be an array of strings');
    keys.forEach((key, i) => {
      checkPlainKey(key, `options.keys[${i}]`);
    });
    if (keysFile !== undefined && (typeof keysFile !== 'string' || keysFile === '')) {
      throw new TypeError('ApiKeyAuth: options.keysFile must be a non-empty path string');
    }
    this.optionKeys = [...keys];
    this.keysFile = keysFile;
    this.reload();
  }

  /** sha256 hex digest of a key: write `sha256:<this>` into a keys file instead of the key itself. */
  static hashKey(key: string): string {
    checkPlainKey(key, 'key');
    return createHash('sha256').update(key, 'utf8').digest('hex');
  }

  /** Re-reads `keysFile` (key rotation without a restart). On error the previous keys stay in force. */
  reload(): void {
    const digests = this.optionKeys.map((key) => sha256(key));
    if (this.keysFile !== undefined) digests.push(...parseKeysFile(this.keysFile));
    const unique = new Map(digests.map((d) => [d.toString('hex'), d]));
    this.digests = [...unique.values()];
  }

  /** False when no keys are configured: `check` then accepts every request as `anonymous`. */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.digests.length;
  }

  /** Key ids (first 8 hex digits of each digest), for per-key limits and logs; never secret. */
  get keyIds(): string[] {
    return this.digests.map((d) => keyIdOf(d));
  }

  /** Checks an `Authorization` header value (`Bearer <key>`). */
  check(authorizationHeader: string | undefined): AuthResult {
    if (!this.enabled) return { ok: true, keyId: ANONYMOUS_KEY_ID };
    if (authorizationHeader === undefined || authorizationHeader === '') {
      return { ok: false, reason: "Missing API key. Send the header 'Authorization: Bearer <key>'." };
    }
    if (typeof authorizationHeader !== 'string') {
      return { ok: false, reason: 'Malformed Authorization header: expected a single value.' };
    }
    const match = BEARER.exec(authorizationHeader);
    if (match === null) {
      return { ok: false, reason: "Malformed Authorization header: expected 'Bearer <key>'." };
    }
    const presented = sha256(match[1]!);
    let found: Buffer | undefined;
    for (const digest of this.digests) {
      // Every digest is compared, even after a match, so the time taken does not depend on the key's position.
      if (timingSafeEqual(digest, presented) && found === undefined) found = digest;
    }
    if (found === undefined) return { ok: false, reason: 'Incorrect API key provided.' };
    return { ok: true, keyId: keyIdOf(found) };
  }
}

function sha256(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function keyIdOf(digest: Buffer): string {
  return digest.toString('hex').slice(0, 8);
}

function checkPlainKey(key: unknown, name: string): void {
  if (typeof key !== 'string') throw new TypeError(`ApiKeyAuth: ${name} must be a string, got ${typeof key}`);
  if (key === '' || /\s/.test(key)) {
    throw new RangeError(`ApiKeyAuth: ${name} must be non-empty and contain no whitespace`);
  }
}

function parseKeysFile(path: string): Buffer[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new Error(`ApiKeyAuth: cannot read keysFile '${path}': ${(cause as Error).message}`, { cause });
  }
  const digests: Buffer[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const digest = DIGEST_LINE.exec(line);
    if (digest !== null) {
      digests.push(Buffer.from(digest[1]!.toLowerCase(), 'hex'));
      return;
    }
    if (line.toLowerCase().startsWith('sha256:')) {
      throw new RangeError(
        `ApiKeyAuth: keysFile '${path}' line ${index + 1}: 'sha256:' must be followed by 64 hex digits`,
      );
    }
    if (/\s/.test(line)) {
      throw new RangeError(
        `ApiKeyAuth: keysFile '${path}' line ${index + 1}: a key must not contain whitespace`,
      );
    }
    digests.push(sha256(line));
  });
  return digests;
}
