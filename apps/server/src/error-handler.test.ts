import { describe, expect, it } from 'vitest';
import { paramFromPath, validationError } from './error-handler.js';

describe('paramFromPath', () => {
  it('writes ajv paths the way OpenAI names params', () => {
    expect(paramFromPath('/messages/0/role')).toBe('messages[0].role');
    expect(paramFromPath('/prompt/1/0')).toBe('prompt[1][0]');
    expect(paramFromPath('', 'messages')).toBe('messages');
    expect(paramFromPath('/messages/2', 'role')).toBe('messages[2].role');
  });
});

describe('validationError', () => {
  it('names the field of a nullable (anyOf) field and keeps the branch message', () => {
    const e = validationError([
      { instancePath: '/temperature', keyword: 'type', message: 'must be number', params: {} },
      { instancePath: '/temperature', keyword: 'type', message: 'must be null', params: {} },
      { instancePath: '/temperature', keyword: 'anyOf', message: 'must match a schema in anyOf', params: {} },
    ]);
    expect(e.status).toBe(400);
    expect(e.param).toBe('temperature');
    expect(e.message).toBe("Invalid value for 'temperature': must be number");
  });

  it('explains multi-shape fields and missing fields', () => {
    const prompt = validationError([
      { instancePath: '/prompt', keyword: 'type', message: 'must be string', params: {} },
      { instancePath: '/prompt/1', keyword: 'type', message: 'must be string', params: {} },
      { instancePath: '/prompt', keyword: 'anyOf', message: 'must match a schema in anyOf', params: {} },
    ]);
    expect(prompt.param).toBe('prompt');
    expect(prompt.message).toMatch(/array of token ids/);
    const missing = validationError([
      { instancePath: '', keyword: 'required', params: { missingProperty: 'messages' } },
    ]);
    expect(missing.param).toBe('messages');
    expect(missing.code).toBe('missing_required_parameter');
    const notObject = validationError([
      { instancePath: '', keyword: 'type', message: 'must be object', params: {} },
    ]);
    expect(notObject.param).toBeNull();
  });
});
