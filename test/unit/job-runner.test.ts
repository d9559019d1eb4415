import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { APP_VISITS_AT_ONCE, JobRunner, type Job, type JobApp } from '../../src/jobs/runner.js';

const log = pino({ level: 'silent' });
const app = (name: string): JobApp => ({ name, log, db: {} as Database });
const HOUR = 3_600_000;

/** A job that records its passes; a pass can be held open until released. */
function recorder(name: string, opts: { hold?: boolean; fail?: string; nextDue?: () => Date | null } = {}) {
  const passes: string[] = [];
  const open: Array<() => void> = [];
  let stopped = 0;
  const job: Job = {
    name,
    intervalMs: HOUR,
    async run(a) {
      passes.push(a.name);
      if (opts.fail === a.name) throw new Error('boom');
      if (opts.hold) await new Promise<void>((resolve) => open.push(resolve));
    },
    nextDue: opts.nextDue ? async () => opts.nextDue!() : undefined,
    async stop() {
      stopped++;
      for (const release of open.splice(0)) release();
    },
  };
  return { job, passes, open, stopped: () => stopped };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

describe('JobRunner', () => {
  it('runNow runs one pass over every app; a failing app does not stop the others', async () => {
    const r = recorder('a', { fail: 'x' });
    const runner = new JobRunner(() => [app('x'), app('y')], log).add(r.job);
    runner.start();
    await runner.runNow('a');
    expect(r.passes.sort()).toEqual(['x', 'y']);
    await runner.runNow();
    expect(r.passes).toHaveLength(4);
    await runner.stop();
  });

  it('passes of one job never overlap: runNow waits for the running pass', async () => {
    const r = recorder('held', { hold: true });
    const runner = new JobRunner(() => [app('x')], log).add(r.job);
    runner.start();
    const first = runner.runNow('held');
    const second = runner.runNow('held');
    await until(() => r.open.length === 1);
    expect(r.passes).toEqual(['x']); // the second pass has not started
    r.open.shift()!();
    await first;
    await until(() => r.open.length === 1);
    expect(r.passes).toEqual(['x', 'x']);
    r.open.shift()!();
    await second;
    await runner.stop();
  });

  it('wakeAt arms a pass before the interval; nextDue arms the following one', async () => {
    let due: Date | null = null;
    const r = recorder('soon', { nextDue: () => due });
    const runner = new JobRunner(() => [app('x')], log).add(r.job);
    runner.start();
    due = new Date(Date.now() + 20);
    runner.wakeAt('soon', new Date(Date.now() + 10));
    await until(() => r.passes.length >= 1);
    due = null;
    await until(() => r.passes.length >= 2); // armed by nextDue after the first pass (a slow poll may see both at once)
    await runner.stop();
    expect(() => runner.wakeAt('missing', new Date())).toThrow(/unknown job/);
  });

  it('stop lets jobs cancel what runs, waits for the pass, and arms nothing more', async () => {
    const r = recorder('long', { hold: true });
    const runner = new JobRunner(() => [app('x')], log).add(r.job);
    runner.start();
    const pass = runner.runNow('long');
    await until(() => r.open.length === 1);
    await runner.stop(); // the job's stop releases the held pass
    await pass;
    expect(r.stopped()).toBe(1);
    await runner.runNow('long');
    expect(r.passes).toEqual(['x']);
    expect(() => runner.add(r.job)).toThrow(/already added/);
  });

  it('skips an app idle since its last visit until its known work is due; wakeAt with the app and runNow visit it', async () => {
    const busy = { name: 'busy', log, db: {} as Database, lastUsedAt: Date.now() };
    const idle = { name: 'idle', log, db: {} as Database, lastUsedAt: 0 };
    const passes: string[] = [];
    let idleDue: Date | null = null;
    const job: Job = {
      name: 'poll',
      intervalMs: 20,
      async run(a) {
        passes.push(a.name);
      },
      nextDue: async (a) => (a.name === 'idle' ? idleDue : null),
    };
    const runner = new JobRunner(() => [busy, idle], log).add(job);
    runner.start();
    await until(() => passes.length >= 2); // the first pass visits every app
    expect(passes.sort()).toEqual(['busy', 'idle']);
    passes.length = 0;
    for (let i = 0; i < 3; i++) {
      busy.lastUsedAt = Date.now();
      const seen = passes.filter((p) => p === 'busy').length;
      await until(() => passes.filter((p) => p === 'busy').length > seen);
    }
    expect(passes.filter((p) => p === 'idle')).toEqual([]); // three passes, the idle app untouched

    runner.wakeAt('poll', new Date(), 'idle');
    await until(() => passes.includes('idle'));
    passes.length = 0;
    idleDue = new Date(Date.now() + 60); // known work a little later: visited once it is due
    await runner.runNow('poll');
    expect(passes.filter((p) => p === 'idle')).toEqual(['idle']);
    await until(() => passes.filter((p) => p === 'idle').length >= 2);
    await runner.stop();
  });

  it('visits at most APP_VISITS_AT_ONCE apps at once', async () => {
    let running = 0;
    let most = 0;
    const job: Job = {
      name: 'wide',
      intervalMs: HOUR,
      async run() {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      },
    };
    const runner = new JobRunner(() => Array.from({ length: 40 }, (_, i) => app(`a${i}`)), log).add(job);
    runner.start();
    await runner.runNow('wide');
    expect(most).toBe(APP_VISITS_AT_ONCE);
    await runner.stop();
  });

  it('runNow loads dormant apps once for every job, gives back idle pools, and holds apps with work due soon', async () => {
    const released: string[] = [];
    const mk = (name: string) => ({ name, log, db: { releaseIdle: () => released.push(name) } as unknown as Database, lastUsedAt: 0 });
    const loads: string[] = [];
    const visits: string[] = [];
    const job = (name: string, due: Date | null): Job => ({
      name,
      intervalMs: HOUR,
      async run(a) {
        visits.push(`${name}:${a.name}`);
      },
      nextDue: async () => due,
    });
    const runner = new JobRunner(() => [mk('live')], log, {
      idleMs: 1000,
      dormant: {
        names: async () => ['sleepy'],
        load: async (n) => {
          loads.push(n);
          return mk(n);
        },
      },
    })
      .add(job('one', null))
      .add(job('two', new Date(Date.now() + 60_000)));
    runner.start();
    await runner.runNow();
    expect(loads).toEqual(['sleepy']);
    expect(visits.sort()).toEqual(['one:live', 'one:sleepy', 'two:live', 'two:sleepy']);
    expect(released.filter((n) => n === 'sleepy')).toEqual(['sleepy']); // once, after both jobs
    expect(runner.holds('sleepy')).toBe(true); // job two has work due in a minute
    await runner.stop();
  });
});
