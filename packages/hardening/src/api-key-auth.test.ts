import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiKeyAuth } from './api-key-auth.js';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'ternion-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keysFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('ApiKeyAuth', () => {
  beforeEach(() => {
    vi.mocked(crypto.timingSafeEqual).mockClear();
  });

  it('is disabled without keys and then accepts anything as anonymous', () => {
    const auth = new ApiKeyAuth();
    expect(auth.enabled).toBe(false);
    expect(auth.check(undefined)).toEqual({ ok: true, keyId: 'anonymous' });
    expect(auth.check('garbage')).toEqual({ ok: true, keyId: 'anonymous' });
  });

  it('accepts each configured key with a keyId of the first 8 hex digits of its sha256', () => {
    const auth = new ApiKeyAuth({ keys: ['sk-alpha', 'sk-beta'] });
    expect(auth.enabled).toBe(true);
    expect(auth.check('Bearer sk-alpha')).toEqual({ ok: true, keyId: sha('sk-alpha').slice(0, 8) });
    expect(auth.check('Bearer sk-beta')).toEqual({ ok: true, keyId: sha('sk-beta').slice(0, 8) });
    expect(auth.keyIds.sort()).toEqual([sha('sk-alpha').slice(0, 8), sha('sk-beta').slice(0, 8)].sort());
  });

  it('compares digests with crypto.timingSafeEqual against every key, even after a match', () => {
    const auth = new ApiKeyAuth({ keys: ['k1', 'k2', 'k3'] });
    const spy = vi.mocked(crypto.timingSafeEqual);
    expect(auth.check('Bearer k1').ok).toBe(true);
    expect(spy).toHaveBeenCalledTimes(3);
    for (const [a, b] of spy.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
    spy.mockClear();
    expect(auth.check('Bearer nope').ok).toBe(false);
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it('rejects missing, malformed and wrong Authorization headers with a reason', () => {
    const auth = new ApiKeyAuth({ keys: ['sk-alpha'] });
    const reasons = [
      undefined,
      '',
      'sk-alpha',
      'Basic c2stYWxwaGE=',
      'Bearer',
      'Bearer ',
      'Bearer a b',
      'Bearer sk-alph',
    ]
      .map((h) => auth.check(h))
      .map((r) => (r.ok ? 'ok' : r.reason));
    expect(reasons[0]).toMatch(/Missing API key/);
    expect(reasons[1]).toMatch(/Missing API key/);
    for (const r of reasons.slice(2, 7)) expect(r).toMatch(/Malformed Authorization header/);
    expect(reasons[7]).toMatch(/Incorrect API key/);
    // Header arrays (a repeated header) are refused, not coerced.
    expect(auth.check(['Bearer sk-alpha'] as unknown as string).ok).toBe(false);
  });

  it('accepts a case-insensitive scheme and extra spaces around the token', () => {
    const auth = new ApiKeyAuth({ keys: ['sk-alpha'] });
    expect(auth.check('bearer sk-alpha').ok).toBe(true);
    expect(auth.check('BEARER   sk-alpha  ').ok).toBe(true);
  });

  it('reads a keys file of plain keys and sha256: digests, skipping comments and blank lines', () => {
    const path = keysFile(
      'keys.txt',
      ['# team keys', '', 'sk-plain', `sha256:${sha('sk-hashed').toUpperCase()}`, '  sk-indented  ', ''].join(
        '\r\n',
      ),
    );
    const auth = new ApiKeyAuth({ keysFile: path, keys: ['sk-option'] });
    expect(auth.size).toBe(4);
    for (const key of ['sk-plain', 'sk-hashed', 'sk-indented', 'sk-option'])
      expect(auth.check(`Bearer ${key}`).ok).toBe(true);
    // A digest line authorises the key, not the digest itself.
    expect(auth.check(`Bearer ${sha('sk-hashed')}`).ok).toBe(false);
    expect(auth.check('Bearer # team keys').ok).toBe(false);
  });

  it('treats a bare 64-hex line as a plain key (only sha256: lines are digests)', () => {
    const hexKey = 'a'.repeat(64);
    const auth = new ApiKeyAuth({ keysFile: keysFile('hex.txt', `${hexKey}\n`) });
    expect(auth.check(`Bearer ${hexKey}`).ok).toBe(true);
  });

  it('hashKey gives the digest to put after sha256: in a keys file', () => {
    expect(ApiKeyAuth.hashKey('sk-x')).toBe(sha('sk-x'));
    const auth = new ApiKeyAuth({ keysFile: keysFile('hk.txt', `sha256:${ApiKeyAuth.hashKey('sk-x')}\n`) });
    expect(auth.check('Bearer sk-x').ok).toBe(true);
  });

  it('reload picks up a rotated keys file', () => {
    const path = keysFile('rotate.txt', 'sk-old\n');
    const auth = new ApiKeyAuth({ keysFile: path });
    writeFileSync(path, 'sk-new\n');
    expect(auth.check('Bearer sk-old').ok).toBe(true);
    auth.reload();
    expect(auth.check('Bearer sk-old').ok).toBe(false);
    expect(auth.check('Bearer sk-new').ok).toBe(true);
  });

  it('rejects bad options and bad key files naming the problem', () => {
    expect(() => new ApiKeyAuth({ keys: 'sk' as unknown as string[] })).toThrow(TypeError);
    expect(() => new ApiKeyAuth({ keys: [42 as unknown as string] })).toThrow(
      /options.keys\[0\] must be a string/,
    );
    expect(() => new ApiKeyAuth({ keys: [''] })).toThrow(RangeError);
    expect(() => new ApiKeyAuth({ keys: ['has space'] })).toThrow(/no whitespace/);
    expect(() => new ApiKeyAuth({ keysFile: join(dir, 'missing.txt') })).toThrow(/cannot read keysFile/);
    expect(() => new ApiKeyAuth({ keysFile: keysFile('bad.txt', 'sha256:abc\n') })).toThrow(
      /line 1: 'sha256:' must be/,
    );
    expect(() => new ApiKeyAuth({ keysFile: keysFile('ws.txt', 'ok\nsk a\n') })).toThrow(/line 2/);
  });
});
