import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import { runWebhookPass } from '../../src/webhooks/dispatch.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { appCalls } from '../support/app-calls.js';

/**
 * Audit of webhooks, admin text checks, state machines and computed file values against the spec
 * (webhooks.md, rules.md, files.md, state-machines.md): each test pins a defect found by probing the server.
 */

let s: TestServer;
let app: { name: string; token: string };
let runtime: AppRuntime;
const uuid = { field: 'id', type: 'uuid', generated: true };

const { admin, rec } = appCalls(() => ({ server: s, app }));

// A local receiver: answers 500 until told to hold calls, then keeps each call open until released.
const RECEIVER_PORT = 14621;
let receiver: Server;
const calls: string[] = [];
let holding = false;
const held: Array<() => void> = [];

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(req.url!);
      const answer = () => {
        res.statusCode = 500;
        res.end('boom');
      };
      if (holding) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => receiver.listen(RECEIVER_PORT, '127.0.0.1', r));
  s = await startTestServer();
  app = await s.createApp();
  runtime = (await s.rocket.services.apps.get(app.name))!;
  const res = await admin('post', 'entities', {
    name: 'ticket',
    table: 'tickets',
    primary_key: uuid,
    fields: [
      { name: 'id', type: 'uuid' },
      { name: 'title', type: 'string' },
      { name: 'due', type: 'timestamp' },
      { name: 'attachment_id', type: 'string' },
      { name: 'attachment', type: 'file' },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
});
afterAll(async () => {
  for (const release of held.splice(0)) release();
  await s?.close();
  await new Promise((r) => receiver?.close(r));
});

describe('manual webhook retry', () => {
  it('refuses a retrying log whose call is in flight with 409, so no second call runs and the attempt counts once', async () => {
    const hook = await admin('post', 'webhooks', { entity: 'ticket', url: `http://127.0.0.1:${RECEIVER_PORT}/inflight` });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    expect((await rec('post', 'ticket', { title: 'a' })).status).toBe(201);
    const first = await waitFor(async () => {
      const logs = (await admin('get', `webhook-logs?webhook_id=${hook.body.data.id}`)).body.data;
      return logs[0]?.status === 'retrying' ? logs[0] : undefined;
    }, 'the first attempt to fail');
    expect(first.attempt).toBe(1);

    // The retry job takes the due log and its call hangs at the receiver.
    holding = true;
    await runtime.db.query(`UPDATE _webhook_logs SET next_retry_at = NOW() - interval '1 second' WHERE id = $1`, [first.id]);
    const pass = runWebhookPass(runtime);
    await waitFor(() => held.length === 1, 'the retry call to reach the receiver');

    const retried = await admin('post', `webhook-logs/${first.id}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).toBe(409);
    expect(retried.body.error).toEqual({ code: 'CONFLICT', message: `Webhook log ${first.id} is being delivered; retry it after the call ends` });
    // Nothing became due: another pass sends nothing while the call runs.
    expect(await runWebhookPass(runtime)).toEqual({ retried: 0, recovered: 0 });
    expect(held).toHaveLength(1);

    held.shift()!();
    holding = false;
    await pass;
    const after = (await admin('get', `webhook-logs/${first.id}`)).body.data;
    expect(after).toMatchObject({ status: 'retrying', attempt: 2, error: 'HTTP 500', response_status: 500 });
    expect(calls.filter((c) => c === '/inflight')).toHaveLength(2);

    // Once the call has ended the log can be retried again.
    const again = await admin('post', `webhook-logs/${first.id}/retry`);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.data).toMatchObject({ id: first.id, status: 'retrying', attempt: 2 });
    await admin('delete', `webhooks/${hook.body.data.id}`);
  });
});

describe('webhook header values', () => {
  it('refuses values that are not byte strings (outside Latin-1, control characters) at save, naming the header', async () => {
    const url = 'https://hooks.example.com/h';
    const before = (await admin('get', 'webhooks')).body.data.length;
    for (const value of ['caf\u00e9 \u2713', 'token-\u{1F600}', 'a\u0001b', 'a\u007fb']) {
      const res = await admin('post', 'webhooks', { entity: 'ticket', url, headers: { 'X-Key': value } });
      expect(res.status, JSON.stringify(value)).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'headers.X-Key must contain only printable Latin-1 characters' });
    }
    expect((await admin('get', 'webhooks')).body.data).toHaveLength(before);

    // Latin-1 and tabs are valid header bytes; PUT checks the same way.
    const ok = await admin('post', 'webhooks', { entity: 'ticket', url, headers: { 'X-Key': 'caf\u00e9\tok' } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.data.headers).toEqual({ 'X-Key': 'caf\u00e9\tok' });
    const put = await admin('put', `webhooks/${ok.body.data.id}`, { entity: 'ticket', url, headers: { 'X-Other': '\u20ac' } });
    expect(put.status).toBe(422);
    expect(put.body.error.message).toBe('headers.X-Other must contain only printable Latin-1 characters');
    expect((await admin('get', `webhooks/${ok.body.data.id}`)).body.data.headers).toEqual({ 'X-Key': 'caf\u00e9\tok' });
    await admin('delete', `webhooks/${ok.body.data.id}`);
  });
});

describe('admin text PostgreSQL cannot store', () => {
  it('names a lone UTF-16 surrogate as such, and NUL as NUL', async () => {
    const url = 'https://hooks.example.com/t';
    const lone = await admin('post', 'webhooks', { entity: 'ticket', url, condition: "record.title == '\ud800'" });
    expect(lone.status).toBe(422);
    expect(lone.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'condition must not contain unpaired UTF-16 surrogates (text must be valid Unicode)',
      details: [{ field: 'condition', rule: 'type', message: 'condition must not contain unpaired UTF-16 surrogates (text must be valid Unicode)' }],
    });
    const nested = await admin('post', 'entities', {
      name: 'lone',
      primary_key: uuid,
      fields: [
        { name: 'id', type: 'uuid' },
        { name: 'a', type: 'string', label: 'x\udc00' },
      ],
    });
    expect(nested.status).toBe(422);
    expect(nested.body.error.message).toBe('fields must not contain unpaired UTF-16 surrogates (text must be valid Unicode)');
    expect(nested.body.error.details[0].field).toBe('fields[1].label');
    // A proper pair is text like any other; NUL keeps its own message.
    const nul = await admin('post', 'webhooks', { entity: 'ticket', url, condition: "record.title == '\u0000'" });
    expect(nul.body.error.message).toBe('condition must not contain NUL characters');
    const platform = await s.client.post('/api/_platform/apps', { token: s.platformToken, body: { name: 'lone_app', display_name: 'Sales \udbff' } });
    expect(platform.status).toBe(422);
    expect(platform.body.error.message).toBe('display_name must not contain unpaired UTF-16 surrogates (text must be valid Unicode)');
    const pair = await admin('post', 'webhooks', { entity: 'ticket', url, condition: "record.title == '\u{1F600}'" });
    expect(pair.status, JSON.stringify(pair.body)).toBe(201);
    await admin('delete', `webhooks/${pair.body.data.id}`);
  });
});

describe('state machine on a timestamp field', () => {
  it('compares instants: the same instant in another notation is no change; a change names the stored instant', async () => {
    const machine = await admin('post', 'state-machines', {
      entity: 'ticket',
      field: 'due',
      // States of a timestamp field are instants, in whatever notation the definition names them.
      definition: { transitions: [{ from: '2025-01-15T11:30:00+01:00', to: '2025-03-01T00:00:00Z' }] },
    });
    expect(machine.status, JSON.stringify(machine.body)).toBe(201);
    const created = await rec('post', 'ticket', { title: 't', due: '2025-01-15T10:30:00Z' });
    expect(created.status).toBe(201);
    const id = created.body.data.id;

    // Sending back what was read, the same text, or the same instant at another offset changes nothing.
    for (const due of [created.body.data.due, '2025-01-15T10:30:00Z', '2025-01-15T12:30:00+02:00']) {
      const res = await rec('put', `ticket/${id}`, { title: `t ${due}`, due });
      expect(res.status, `${due}: ${JSON.stringify(res.body)}`).toBe(200);
    }
    const moved = await rec('put', `ticket/${id}`, { due: '2025-02-01T00:00:00Z' });
    expect(moved.status).toBe(422);
    expect(moved.body.error.details).toEqual([
      { field: 'due', rule: 'state_machine', message: "Invalid transition from '2025-01-15T10:30:00.000Z' to '2025-02-01T00:00:00Z'" },
    ]);
    const [row] = await runtime.db.query<{ due: Date }>('SELECT due FROM tickets WHERE id = $1', [id]);
    expect(row!.due.toISOString()).toBe('2025-01-15T10:30:00.000Z');
    const allowed = await rec('put', `ticket/${id}`, { due: '2025-03-01 01:00:00+01' });
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    expect(allowed.body.data.due).toBe('2025-03-01T00:00:00.000Z');
    await admin('delete', `state-machines/${machine.body.data.id}`);
  });
});

describe('computed rule on a file field', () => {
  it('resolves a computed file id like a sent one (404 for an unknown id, 422 for a non-file value)', async () => {
    const form = new FormData();
    form.append('file', new Blob(['hello!'], { type: 'text/plain' }), 'note.txt');
    const uploaded = await fetch(`${s.rocket.url}/api/${app.name}/_files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.token}` },
      body: form,
    });
    expect(uploaded.status).toBe(201);
    const file = ((await uploaded.json()) as { data: { id: string } }).data;
    const rule = await admin('post', 'rules', {
      entity: 'ticket',
      hook: 'before_write',
      type: 'computed',
      definition: { field: 'attachment', expression: 'record.attachment_id' },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);

    const meta = { id: file.id, filename: 'note.txt', size: 6, mime_type: 'text/plain' };
    const created = await rec('post', 'ticket', { title: 'f', attachment_id: file.id.toUpperCase() });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data.attachment).toEqual(meta);
    const [row] = await runtime.db.query<{ attachment: unknown }>('SELECT attachment FROM tickets WHERE id = $1', [created.body.data.id]);
    expect(row!.attachment).toEqual(meta);

    // The computed value overrides a sent one.
    const missing = '00000000-0000-4000-8000-000000000000';
    const lost = await rec('put', `ticket/${created.body.data.id}`, { attachment_id: missing, attachment: file.id });
    expect(lost.status).toBe(404);
    expect(lost.body.error).toEqual({ code: 'NOT_FOUND', message: `File ${missing} not found` });

    const bad = await rec('post', 'ticket', { title: 'g', attachment_id: 'not a file' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ field: 'attachment', rule: 'type', message: 'attachment must be file' }]);
    const cleared = await rec('put', `ticket/${created.body.data.id}`, { attachment_id: null });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
    expect(cleared.body.data.attachment).toBeNull();
    await admin('delete', `rules/${rule.body.data.id}`);
  });
});
