import { AdmissionController } from '@ternion/hardening';
import { describe, expect, it } from 'vitest';
import { acquireSequences } from './acquire-sequences.js';

const never = new AbortController().signal;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('acquireSequences', () => {
  it('takes n slots and gives them all back once', async () => {
    const a = new AdmissionController({ slots: 4, maxQueue: 8 });
    const release = await acquireSequences(a, 3, never);
    expect(a.running).toBe(3);
    release();
    release();
    expect(a.running).toBe(0);
  });

  it('serves half-admitted requests first in, first out, without deadlock', async () => {
    const a = new AdmissionController({ slots: 3, maxQueue: 8 });
    const holder = await acquireSequences(a, 2, never);
    const order: string[] = [];
    const admitted = (name: string) => (release: () => void) => {
      order.push(name);
      return release;
    };
    const first = acquireSequences(a, 2, never).then(admitted('first'));
    const second = acquireSequences(a, 2, never).then(admitted('second'));
    await tick();
    expect(a.running).toBe(3); // `first` holds one slot and waits for one more
    holder();
    const r1 = await first;
    await tick();
    expect(order).toEqual(['first']);
    r1();
    (await second)();
    expect(order).toEqual(['first', 'second']);
    expect(a.running).toBe(0);
    expect(a.queued).toBe(0);
  });

  it('when the queue overflows, leaves the queue and returns the slots it held', async () => {
    const a = new AdmissionController({ slots: 2, maxQueue: 1 });
    const holder = await acquireSequences(a, 1, never);
    await expect(acquireSequences(a, 3, never)).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(a.running).toBe(1);
    expect(a.queued).toBe(0);
    holder();
    expect(a.running).toBe(0);
  });

  it('an aborted waiter gives back what it held', async () => {
    const a = new AdmissionController({ slots: 2, maxQueue: 4 });
    const holder = await acquireSequences(a, 1, never);
    const abort = new AbortController();
    const waiting = acquireSequences(a, 2, abort.signal);
    await tick();
    abort.abort();
    await expect(waiting).rejects.toBeDefined();
    expect(a.running).toBe(1);
    expect(a.queued).toBe(0);
    holder();
  });
});
