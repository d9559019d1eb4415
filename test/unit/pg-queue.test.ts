import { describe, expect, it } from 'vitest';
// The driver's connection and query queues (patched: patches/postgres+3.4.9.patch). Not part of its public API,
// hence the path: the patch compacts a queue that never runs empty, and this checks the queue still behaves.
// @ts-expect-error -- plain JavaScript without declarations
import Queue from '../../node_modules/postgres/src/queue.js';

interface Q<T> {
  readonly length: number;
  push(x: T): T;
  shift(): T;
  peek(): T | undefined;
  remove(x: T): T | null;
}

const queue = <T>(initial: T[] = []): Q<T> => Queue(initial) as Q<T>;

describe('postgres.js queue (patched)', () => {
  it('keeps FIFO order, length, peek and remove while it never runs empty (idle connections taken and given back in turn)', () => {
    const a = { n: 'a' };
    const b = { n: 'b' };
    const c = { n: 'c' };
    const q = queue([a, b, c]);
    const model = [a, b, c];
    for (let i = 0; i < 20_000; i++) {
      expect(q.peek()).toBe(model[0]);
      const taken = q.shift();
      expect(taken).toBe(model.shift());
      // The pool moves a connection by removing it from the queue it was in: shifted out, it is not found.
      expect(q.remove(taken)).toBeNull();
      if (i % 7 === 0 && model.length > 0) {
        // Now and then one in the middle leaves (a connection closed while idle) and comes back at the end.
        const leaving = model.splice(model.length - 1, 1)[0]!;
        expect(q.remove(leaving)).toBe(leaving);
        model.push(leaving);
        q.push(leaving);
      }
      q.push(taken);
      model.push(taken);
      expect(q.length).toBe(model.length);
    }
    const rest: unknown[] = [];
    while (q.length) rest.push(q.shift());
    expect(rest).toEqual(model);
    expect(q.peek()).toBeUndefined();
  });

  it('drains and refills', () => {
    const q = queue<number>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 200; i++) q.push(i);
      for (let i = 0; i < 150; i++) expect(q.shift()).toBe(i);
      expect(q.remove(175)).toBe(175);
      expect(q.remove(10)).toBeNull();
      const left: number[] = [];
      while (q.length) left.push(q.shift());
      expect(left).toEqual([...Array.from({ length: 25 }, (_, i) => 150 + i), ...Array.from({ length: 24 }, (_, i) => 176 + i)]);
    }
  });
});
