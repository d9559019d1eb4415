import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SseReader } from '../support/sse.js';
import { startTestServer, type TestServer } from '../support/server.js';

// realtime.md: a subscriber receives every change committed after `ready`. Capture is off while an app has no
// stream, so a write that decided not to capture just before the first stream opened must be over before that
// stream says `ready` — otherwise it commits afterwards and its change is never sent.
let s: TestServer;
let app: { name: string; token: string };
const streams = new Set<SseReader>();
vi.setConfig({ testTimeout: 60_000 });

beforeAll(async () => {
  s = await startTestServer();
});

/** A fresh app (no stream, so no capture) with one entity; a rule takes its writes off the one-statement path. */
async function freshApp(general: boolean): Promise<void> {
  app = await s.createApp();
  const admin = (what: string, body: unknown) => s.client.post(`/api/${app.name}/_admin/${what}`, { token: app.token, body });
  const entity = await admin('entities', {
    name: 'item',
    table: 'items',
    primary_key: { field: 'id', type: 'uuid', generated: true },
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'name', type: 'string' },
    ],
  });
  expect(entity.status, JSON.stringify(entity.body)).toBe(201);
  if (!general) return;
  const rule = await admin('rules', {
    entity: 'item',
    hook: 'before_write',
    type: 'field',
    definition: { field: 'name', operator: 'max_length', value: 100, message: '', stop_on_fail: false },
  });
  expect(rule.status, JSON.stringify(rule.body)).toBe(201);
}
afterEach(() => {
  for (const r of streams) r.close();
  streams.clear();
});
afterAll(async () => {
  await s?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the first stream of an app and writes already under way', () => {
  for (const path of ['fast', 'general'] as const) {
    const title =
      path === 'fast'
        ? 'says ready only once a one-statement write that decided not to capture is over'
        : 'captures a transaction that decides only at its commit, after the stream opened';
    it(title, async () => {
      await freshApp(path === 'general');
      const made = await s.client.post(`/api/${app.name}/item`, { token: app.token, body: { name: 'before' } });
      expect(made.status).toBe(201);
      const id: string = made.body.data.id;
      const runtime = (await s.rocket.services.apps.get(app.name))!;

      // Hold the row: the update below decides (no stream, no capture), sends its statement and waits for the lock.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const lock = runtime.db.transaction(async (tx) => {
        await tx.query('SELECT id FROM items WHERE id = $1 FOR UPDATE', [id]);
        locked();
        await held;
      });
      await isLocked;
      let updatedAt = 0;
      const update = s.client.put(`/api/${app.name}/item/${id}`, { token: app.token, body: { name: 'during' } }).then((res) => {
        updatedAt = Date.now();
        return res;
      });
      await sleep(300);

      let readyAt = 0;
      const opened = SseReader.open(s.rocket.url, `/api/${app.name}/_realtime?entities=item`, { authorization: `Bearer ${app.token}` }).then(
        async (reader) => {
          if (!(reader instanceof SseReader)) throw new Error(`stream refused: ${JSON.stringify(reader)}`);
          streams.add(reader);
          await reader.waitFor(1, 'ready', 30_000);
          readyAt = Date.now();
          return reader;
        },
      );
      await sleep(1500);
      const readyWhileHeld = readyAt !== 0;
      release();
      await lock;
      expect((await update).status).toBe(200);
      const reader = await opened;
      const expected: string[] = [];
      if (path === 'fast') {
        // Decided before the stream existed, committed only on release: ready must wait for it.
        expect(readyWhileHeld, 'ready came while a write that did not capture could still commit').toBe(false);
        expect(readyAt).toBeGreaterThanOrEqual(updatedAt);
      } else {
        // The general path decides just before COMMIT, after the lock: it captures, and its change arrives.
        expect(readyWhileHeld).toBe(true);
        expected.push('during');
      }

      // Writes from now on are captured and reach the stream.
      const after = await s.client.put(`/api/${app.name}/item/${id}`, { token: app.token, body: { name: 'after' } });
      expect(after.status).toBe(200);
      expected.push('after');
      const changes = await reader.waitFor(expected.length, 'change', 30_000);
      expect(changes.map((c) => c.data.record.name)).toEqual(expected);
      expect(changes[0]?.data).toMatchObject({ entity: 'item', action: 'update', id, changed: ['name'] });
      reader.close();
    });
  }
});
