import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRuntime } from '../../src/platform/app-runtime.js';
import type { Response } from '../support/client.js';
import { RFC3339 } from '../support/engine.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The four example schemas, imported as a user would (POST /_admin/import), then used over HTTP by users holding
 * the roles each example defines: its rules, state machines (with their role gates and set_field actions), workflows
 * (approvals decided by their assignee role, timeouts), permissions, relations with their cascades, slugs and file
 * fields, compared with what the spec files say. examples-crud and openapi-examples cover plain CRUD and the documents.
 */

type Method = 'get' | 'post' | 'put' | 'delete';
type Caller = (method: Method, path: string, body?: unknown) => Promise<Response<any>>;

const load = (file: string) => JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/examples', file), 'utf8'));

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

interface Example {
  app: { name: string; token: string };
  runtime: AppRuntime;
  /** Callers by name; `admin` is the seeded app admin. */
  as: Record<string, Caller>;
  ids: Record<string, string>;
  tokens: Record<string, string>;
}

/** Imports an example into a new app and creates one user per role set given, logged in. */
async function example(file: string, users: Record<string, string[]>): Promise<Example> {
  const app = await s.createApp();
  const imported = await s.client.post(`/api/${app.name}/_admin/import`, { token: app.token, body: load(file) });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const tokens: Record<string, string> = { admin: app.token };
  const ids: Record<string, string> = {};
  for (const [who, roles] of Object.entries(users)) {
    const email = `${who}@example.org`;
    const created = await s.client.post(`/api/${app.name}/_admin/users`, { token: app.token, body: { email, password: 'secret-pw-1', roles } });
    expect(created.status).toBe(201);
    ids[who] = created.body.data.id;
    tokens[who] = await s.client.login(`/api/${app.name}/auth/login`, email, 'secret-pw-1');
  }
  const as: Record<string, Caller> = {};
  for (const [who, token] of Object.entries(tokens)) {
    as[who] = (method, path, body) => s.client[method](`/api/${app.name}${path}`, { token, body });
  }
  const runtime = (await s.rocket.services.apps.get(app.name))!;
  return { app, runtime, as, ids, tokens };
}

/** The running instances, newest first, as the admin sees them. */
async function pending(ex: Example) {
  const res = await ex.as.admin!('get', '/_workflows/pending');
  expect(res.status).toBe(200);
  return res.body.data as Array<{ id: string; workflow_name: string; current_step: string; context: Record<string, unknown> }>;
}

/** Makes every running instance's deadline due and runs the deadline job once. */
async function expireDeadlines(ex: Example) {
  await ex.runtime.db.query(
    `UPDATE _workflow_instances SET current_step_deadline = NOW() - interval '1 minute' WHERE status = 'running' AND current_step_deadline IS NOT NULL`,
  );
  await s.rocket.jobs.runNow('workflow-deadlines');
}

async function upload(ex: Example, who: string, name: string, type: string, bytes: string) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  const res = await fetch(`${s.rocket.url}/api/${ex.app.name}/_files/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ex.tokens[who]}` },
    body: form,
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { id: string; filename: string; size: number; mime_type: string } }).data;
}

const detail = (res: { body: any }) => res.body.error?.details?.[0];

describe('helpdesk-ticketing', () => {
  let ex: Example;
  const jane = '10000000-0000-0000-0000-000000000001';
  beforeAll(async () => {
    ex = await example('helpdesk-ticketing.json', { agent: ['agent'], customer: ['customer'], lead: ['team_lead'] });
  });

  it('a customer opens and reads tickets only; an agent walks the ticket machine, whose actions stamp resolved_at and closed_at', async () => {
    const { customer, agent } = ex.as as Record<string, Caller>;
    const created = await customer!('post', '/ticket', { title: 'Printer broken', description: 'It smokes', customer_id: jane });
    expect(created.status).toBe(201);
    // defaults of the example (status open is also the machine's initial state)
    expect(created.body.data).toMatchObject({ status: 'open', priority: 'medium', category: 'question', deleted_at: null });
    const id = created.body.data.id;

    expect((await customer!('put', `/ticket/${id}`, { title: 'Printer broken again' })).status).toBe(403);
    expect((await customer!('delete', `/ticket/${id}`)).status).toBe(403);
    expect((await customer!('get', '/customer')).status).toBe(403);
    expect((await agent!('get', '/customer')).body.meta.total).toBe(5);
    // the field rule of the example, and the machine's initial state on create
    const short = await customer!('post', '/ticket', { title: 'Help', description: 'd', customer_id: jane });
    expect(detail(short)).toMatchObject({ field: 'title', rule: 'min_length', message: 'Title must be at least 5 characters' });
    const early = await customer!('post', '/ticket', { title: 'Wrong state', description: 'd', customer_id: jane, status: 'assigned' });
    expect(detail(early)).toEqual({ field: 'status', rule: 'state_machine', message: "Initial state must be 'open', got 'assigned'" });

    const skip = await agent!('put', `/ticket/${id}`, { status: 'resolved' });
    expect(skip.status).toBe(422);
    expect(detail(skip)).toEqual({ field: 'status', rule: 'state_machine', message: "Invalid transition from 'open' to 'resolved'" });
    for (const status of ['assigned', 'in_progress']) expect((await agent!('put', `/ticket/${id}`, { status })).status).toBe(200);
    // the action's "now" overrides a value the client sends for the same field
    const resolved = await agent!('put', `/ticket/${id}`, { status: 'resolved', resolved_at: '2020-01-01T00:00:00Z' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.data.resolved_at).toMatch(RFC3339);
    expect(Date.now() - Date.parse(resolved.body.data.resolved_at)).toBeLessThan(60_000);
    const closed = await agent!('put', `/ticket/${id}`, { status: 'closed' });
    expect(closed.body.data).toMatchObject({ status: 'closed', resolved_at: resolved.body.data.resolved_at });
    expect(closed.body.data.closed_at).toMatch(RFC3339);
    expect((await agent!('put', `/ticket/${id}`, { status: 'open' })).body.data.status).toBe('open');
    const cleared = await agent!('put', `/ticket/${id}`, { status: null });
    expect(detail(cleared)).toMatchObject({ field: 'status', rule: 'state_machine', message: "Invalid transition from 'open' to ''" });
  });

  it('priority raised to critical starts the escalation; only team leads see and decide it; approval assigns the ticket', async () => {
    const { customer, agent, lead } = ex.as as Record<string, Caller>;
    // on update: in_progress has no user transition to assigned, the workflow's system write makes it anyway
    const seed = '30000000-0000-0000-0000-000000000006';
    expect((await agent!('put', `/ticket/${seed}`, { priority: 'critical' })).status).toBe(200);
    const [inst] = await pending(ex);
    expect(inst).toMatchObject({ workflow_name: 'critical_ticket_escalation', current_step: 'notify_lead', context: { record_id: seed } });
    expect((await agent!('get', '/_workflows/pending')).body.data).toEqual([]);
    expect((await lead!('get', '/_workflows/pending')).body.data.map((i: { id: string }) => i.id)).toEqual([inst!.id]);
    const refused = await agent!('post', `/_workflows/${inst!.id}/approve`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    const approved = await lead!('post', `/_workflows/${inst!.id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.data).toMatchObject({ status: 'completed', current_step: '' });
    expect(approved.body.data.history).toEqual([
      { step: 'notify_lead', status: 'approved', by: ex.ids.lead, at: expect.stringMatching(RFC3339) },
      { step: 'assign_senior', status: 'completed', at: expect.stringMatching(RFC3339) },
    ]);
    expect((await agent!('get', `/ticket/${seed}`)).body.data).toMatchObject({ status: 'assigned', priority: 'critical' });

    // the same value again is no change: nothing starts
    expect((await agent!('put', `/ticket/${seed}`, { priority: 'critical', title: 'How to set up SSO with Okta??' })).status).toBe(200);
    expect(await pending(ex)).toEqual([]);

    // on create (stored value ""), by a customer; rejection goes to end and leaves the ticket alone
    const created = await customer!('post', '/ticket', { title: 'Server down', description: 'd', customer_id: jane, priority: 'critical' });
    expect(created.status).toBe(201);
    const [second] = await pending(ex);
    expect(second!.context.record_id).toBe(created.body.data.id);
    const rejected = await lead!('post', `/_workflows/${second!.id}/reject`);
    expect(rejected.body.data).toMatchObject({ status: 'completed', history: [{ step: 'notify_lead', status: 'rejected', by: ex.ids.lead }] });
    expect((await customer!('get', `/ticket/${created.body.data.id}`)).body.data.status).toBe('open');
    const again = await lead!('post', `/_workflows/${second!.id}/approve`);
    expect([again.status, again.body.error.message]).toEqual([422, 'workflow instance is not running (status: completed)']);

    // the deadline follows on_timeout to assign_senior
    const seed7 = '30000000-0000-0000-0000-000000000007';
    await agent!('put', `/ticket/${seed7}`, { priority: 'critical' });
    const [third] = await pending(ex);
    await expireDeadlines(ex);
    const timedOut = (await agent!('get', `/_workflows/${third!.id}`)).body.data;
    expect(timedOut).toMatchObject({
      status: 'completed',
      history: [
        { step: 'notify_lead', status: 'timed_out' },
        { step: 'assign_senior', status: 'completed' },
      ],
    });
    expect((await agent!('get', `/ticket/${seed7}`)).body.data.status).toBe('assigned');
  });

  it('the same raise sent four times at once starts one escalation, not four', async () => {
    const ticket = '30000000-0000-0000-0000-000000000002';
    const sent = await Promise.all([1, 2, 3, 4].map(() => ex.as.agent!('put', `/ticket/${ticket}`, { priority: 'critical' })));
    expect(sent.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const started = (await pending(ex)).filter((i) => i.context.record_id === ticket);
    expect(started).toHaveLength(1);
    await ex.as.lead!('post', `/_workflows/${started[0]!.id}/reject`);
  });

  it('cascades: restrict keeps a customer with tickets, set_null clears an agent’s tickets, a ticket’s responses go with it', async () => {
    const { admin, customer } = ex.as as Record<string, Caller>;
    const restricted = await admin!('delete', `/customer/${jane}`);
    expect(restricted.status).toBe(409);
    expect(restricted.body.error.message).toMatch(/^Cannot delete: \d+ related ticket records exist$/);
    expect((await admin!('get', `/customer/${jane}`)).status).toBe(200);

    // agent 2 works tickets 3 and 6
    expect((await admin!('delete', '/agent/20000000-0000-0000-0000-000000000002')).status).toBe(200);
    const worked = await ex.runtime.db.query<{ agent_id: string | null }>(
      `SELECT agent_id FROM tickets WHERE id IN ('30000000-0000-0000-0000-000000000003', '30000000-0000-0000-0000-000000000006')`,
    );
    expect(worked).toEqual([{ agent_id: null }, { agent_id: null }]);

    const ticket = '30000000-0000-0000-0000-000000000001';
    const withResponses = await customer!('get', `/ticket/${ticket}?include=ticket_responses,ticket_customer`);
    expect(withResponses.body.data.ticket_responses).toHaveLength(3);
    expect(withResponses.body.data.ticket_customer).toBeNull(); // a customer may not read customers: nothing, no error
    expect((await admin!('delete', `/ticket/${ticket}`)).status).toBe(200);
    expect(await ex.runtime.db.query(`SELECT deleted_at IS NOT NULL AS gone FROM tickets WHERE id = $1`, [ticket])).toEqual([{ gone: true }]);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM responses WHERE ticket_id = $1`, [ticket])).toEqual([{ n: 0 }]);
    expect((await customer!('get', `/ticket/${ticket}`)).status).toBe(404);
  });

  it('a response’s attachment takes an uploaded file by id, also in a nested create by an agent', async () => {
    const { agent, customer } = ex.as as Record<string, Caller>;
    const file = await upload(ex, 'customer', 'screen.png', 'image/png', 'png-bytes');
    const ref = { id: file.id, filename: 'screen.png', size: 9, mime_type: 'image/png' };
    const ticket = await agent!('post', '/ticket', {
      title: 'Screenshot attached',
      description: 'see file',
      customer_id: jane,
      ticket_responses: { data: [{ author_type: 'agent', author_id: ex.ids.agent, body: 'Got it', attachment: file.id }] },
    });
    expect(ticket.status, JSON.stringify(ticket.body)).toBe(201);
    const got = await customer!('get', `/ticket/${ticket.body.data.id}?include=ticket_responses`);
    expect(got.body.data.ticket_responses).toEqual([expect.objectContaining({ body: 'Got it', attachment: ref })]);
    const empty = await customer!('post', '/response', { ticket_id: ticket.body.data.id, author_type: 'customer', author_id: jane, body: '' });
    expect(detail(empty)).toMatchObject({ field: 'body', rule: 'required' });
    const mine = await customer!('post', '/response', {
      ticket_id: ticket.body.data.id,
      author_type: 'customer',
      author_id: jane,
      body: 'Thanks',
      attachment: file.id,
    });
    expect(mine.body.data.attachment).toEqual(ref);
  });
});

describe('content-management', () => {
  let ex: Example;
  const emily = '10000000-0000-0000-0000-000000000001';
  beforeAll(async () => {
    ex = await example('content-management.json', { author: ['author'], editor: ['editor'], viewer: ['viewer'] });
  });

  it('slugs: generated from the title, numbered on collision, never reusing a soft-deleted one; lookups, updates and deletes by slug act on the record', async () => {
    const { author, editor, viewer } = ex.as as Record<string, Caller>;
    const post = (title: string, extra: Record<string, unknown> = {}) =>
      author!('post', '/post', { title, body: 'text', author_id: emily, ...extra });
    const first = await post('Héllo, World!');
    expect(first.body.data.slug).toBe('hello-world');
    expect((await post('Hello World')).body.data.slug).toBe('hello-world-2');
    expect((await editor!('delete', '/post/hello-world')).status).toBe(200);
    // the unique index still holds the soft-deleted row's slug: a new post takes the next free one instead of a 409
    expect((await post('Hello world')).body.data.slug).toBe('hello-world-3');

    const bad = await post('Explicit', { slug: 'Not A Slug' });
    expect(detail(bad)).toMatchObject({ field: 'slug', rule: 'pattern' });
    const dup = await post('Explicit', { slug: 'hello-world-2' });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'CONFLICT']);

    const bySlug = await viewer!('get', '/post/postgresql-query-optimization');
    expect(bySlug.body.data.id).toBe('40000000-0000-0000-0000-000000000005');
    const renamed = await author!('put', '/post/postgresql-query-optimization', { title: 'Faster PostgreSQL' });
    expect(renamed.body.data).toMatchObject({ id: '40000000-0000-0000-0000-000000000005', slug: 'postgresql-query-optimization' });
    expect(detail(await author!('put', '/post/postgresql-query-optimization', { slug: '' }))).toMatchObject({ field: 'slug', rule: 'required' });

    // deleting by slug runs the post's cascades on its key: comments soft-deleted, tag links removed
    const deleted = await editor!('delete', '/post/getting-started-with-react-server-components');
    expect(deleted.body).toEqual({ data: { id: 'getting-started-with-react-server-components' } });
    const seed = '40000000-0000-0000-0000-000000000001';
    expect(
      await ex.runtime.db.query(`SELECT bool_and(deleted_at IS NOT NULL) AS all_gone, count(*)::int AS n FROM comments WHERE post_id = $1`, [seed]),
    ).toEqual([{ all_gone: true, n: 2 }]);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM post_tags WHERE post_id = $1`, [seed])).toEqual([{ n: 0 }]);

    // categories: slug from name, set_null on delete by slug
    const cat = await editor!('post', '/category', { name: 'Data Science & AI' });
    expect(cat.body.data).toMatchObject({ slug: 'data-science-ai', sort_order: 0 });
    expect((await author!('post', '/category', { name: 'Nope' })).status).toBe(403);
    expect((await ex.as.admin!('delete', '/category/devops')).status).toBe(200);
    expect((await viewer!('get', '/post/docker-compose-local-development')).body.data.category_id).toBeNull();
  });

  it('review: an author submits, cannot publish; the editor’s approval publishes (published_at stamped), rejection and timeout return to draft', async () => {
    const { author, editor, viewer } = ex.as as Record<string, Caller>;
    const make = async (title: string) => {
      const created = await author!('post', '/post', { title, body: 'text', author_id: emily });
      expect((await author!('put', `/post/${created.body.data.id}`, { status: 'review' })).status).toBe(200);
      return created.body.data.id as string;
    };
    const a = await make('Review me');
    const publish = await author!('put', `/post/${a}`, { status: 'published' });
    expect([publish.status, publish.body.error.message]).toEqual([403, "Transition from 'review' to 'published' not allowed for your roles"]);
    const [inst] = await pending(ex);
    expect(inst).toMatchObject({
      workflow_name: 'post_review_approval',
      current_step: 'editor_review',
      context: { record_id: a, title: 'Review me', author_id: emily },
    });
    expect((await author!('get', '/_workflows/pending')).body.data).toEqual([]);
    expect((await author!('post', `/_workflows/${inst!.id}/approve`)).status).toBe(403);
    expect((await editor!('post', `/_workflows/${inst!.id}/approve`)).body.data.status).toBe('completed');
    const published = (await viewer!('get', `/post/${a}`)).body.data;
    expect(published.status).toBe('published');
    expect(published.published_at).toMatch(RFC3339);
    // the rebuild webhook saw the workflow's write (after_write fires for workflow set_field writes), with no caller
    const logs = await ex.as.admin!('get', '/_admin/webhook-logs?entity=post');
    const rebuild = logs.body.data.find((l: any) => l.request_body.record.id === a);
    expect(rebuild).toMatchObject({ url: 'https://hooks.example.com/rebuild-site', request_headers: { 'X-Source': 'rocket-cms' } });
    expect(rebuild.request_body).toMatchObject({ action: 'update', changes: { status: { old: 'review', new: 'published' } } });
    expect(rebuild.request_body.user).toBeUndefined();

    const b = await make('Reject me');
    const [second] = await pending(ex);
    expect((await editor!('post', `/_workflows/${second!.id}/reject`)).body.data.history.map((h: any) => h.status)).toEqual([
      'rejected',
      'completed',
    ]);
    expect((await viewer!('get', `/post/${b}`)).body.data.status).toBe('draft');

    const c = await make('Forget me');
    await expireDeadlines(ex);
    expect((await viewer!('get', `/post/${c}`)).body.data).toMatchObject({ status: 'draft', published_at: null });
    expect(await pending(ex)).toEqual([]);
  });

  it('tags link through the join table by a nested write of an author, are read from both sides, and a deleted post drops its links', async () => {
    const { author, editor, viewer } = ex.as as Record<string, Caller>;
    const react = '30000000-0000-0000-0000-000000000001';
    const css = '30000000-0000-0000-0000-000000000003';
    const created = await author!('post', '/post', {
      title: 'Tagged',
      body: 'text',
      author_id: emily,
      post_tags: { data: [{ id: react }, { id: css }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.data.id;
    const withTags = await viewer!('get', `/post/${id}?include=post_tags,post_author,post_category`);
    expect(withTags.body.data.post_tags.map((t: { slug: string }) => t.slug).sort()).toEqual(['css', 'react']);
    expect(withTags.body.data.post_author).toBeNull(); // no role of the example may read authors: nothing, no error
    expect(withTags.body.data.post_category).toBeNull();
    expect((await ex.as.admin!('get', `/post/${id}?include=post_author`)).body.data.post_author.id).toBe(emily);
    const fromTag = await viewer!('get', '/tag/react?include=post_tags');
    expect(fromTag.body.data.post_tags.map((p: { id: string }) => p.id)).toContain(id);
    const replaced = await author!('put', `/post/${id}`, { post_tags: { _write_mode: 'replace', data: [{ id: css }] } });
    expect(replaced.status).toBe(200);
    expect((await viewer!('get', `/post/${id}?include=post_tags`)).body.data.post_tags.map((t: { id: string }) => t.id)).toEqual([css]);

    const comment = await viewer!('post', '/comment', { post_id: id, author_name: 'Vic', author_email: 'vic@example.org', body: 'Nice' });
    expect(comment.body.data.status).toBe('pending');
    expect(detail(await viewer!('post', '/comment', { post_id: id, author_name: 'Vic', author_email: 'v@x.io', body: 'N' }))).toMatchObject({
      field: 'body',
      rule: 'min_length',
      message: 'Comment cannot be empty',
    });
    expect((await viewer!('post', '/post', { title: 'Nope', body: 'b', author_id: emily })).status).toBe(403);
    expect((await author!('delete', `/post/${id}`)).status).toBe(403);
    expect((await editor!('delete', `/post/${id}`)).status).toBe(200);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM post_tags WHERE post_id = $1`, [id])).toEqual([{ n: 0 }]);
    expect((await viewer!('get', `/comment/${comment.body.data.id}`)).status).toBe(404);
    // an author with live posts is restricted
    expect((await ex.as.admin!('delete', `/author/${emily}`)).status).toBe(409);
  });

  it('media needs a file: an uploaded id, or the stored object sent back as a string; a viewer may not read media', async () => {
    const { author, viewer, admin } = ex.as as Record<string, Caller>;
    const file = await upload(ex, 'author', 'diagram.svg', 'image/svg+xml', '<svg/>');
    const ref = { id: file.id, filename: 'diagram.svg', size: 6, mime_type: 'image/svg+xml' };
    expect(detail(await author!('post', '/media', { title: 'No file' }))).toMatchObject({ field: 'file', rule: 'required' });
    const unknown = await author!('post', '/media', { title: 'Ghost', file: '11111111-1111-4111-8111-111111111111' });
    expect([unknown.status, unknown.body.error.message]).toEqual([404, 'File 11111111-1111-4111-8111-111111111111 not found']);
    expect(detail(await author!('post', '/media', { title: 'Bad', file: 'diagram.svg' }))).toMatchObject({ field: 'file', rule: 'type' });
    const media = await author!('post', '/media', { title: 'Diagram', file: file.id, uploaded_by: ex.ids.author });
    expect(media.body.data.file).toEqual(ref);
    const copy = await author!('post', '/media', { title: 'Copy', file: JSON.stringify(media.body.data.file) });
    expect(copy.body.data.file).toEqual(ref);
    expect(detail(await admin!('put', `/media/${media.body.data.id}`, { file: null }))).toMatchObject({ field: 'file', rule: 'required' });
    expect((await viewer!('get', '/media')).status).toBe(403);
    const cover = await author!('post', '/post', { title: 'With cover', body: 'b', author_id: emily, featured_image: file.id });
    expect((await viewer!('get', `/post/${cover.body.data.slug}`)).body.data.featured_image).toEqual(ref);
  });
});

describe('employee-management', () => {
  let ex: Example;
  const john = '20000000-0000-0000-0000-000000000001';
  beforeAll(async () => {
    ex = await example('employee-management.json', { employee: ['employee'], manager: ['manager'], hr: ['hr'] });
  });
  const leave = (days: number, extra: Record<string, unknown> = {}) => ({
    employee_id: '20000000-0000-0000-0000-000000000002',
    type: 'annual',
    start_date: '2026-12-01',
    end_date: '2026-12-10',
    days,
    ...extra,
  });

  it('leave requests: the days rules, and transitions gated by role with approved_at stamped by HR’s approval', async () => {
    const { employee, manager, hr } = ex.as as Record<string, Caller>;
    expect(detail(await employee!('post', '/leave_request', leave(0)))).toMatchObject({
      field: 'days',
      rule: 'min',
      message: 'Leave must be at least 1 day',
    });
    expect(detail(await employee!('post', '/leave_request', leave(31)))).toMatchObject({ field: 'days', rule: 'max' });
    const created = await employee!('post', '/leave_request', leave(8));
    expect(created.body.data.status).toBe('pending');
    const id = created.body.data.id;
    expect((await employee!('put', `/leave_request/${id}`, { status: 'cancelled' })).status).toBe(403); // no update policy
    const hrFirst = await hr!('put', `/leave_request/${id}`, { status: 'manager_approved' });
    expect([hrFirst.status, hrFirst.body.error.message]).toEqual([403, "Transition from 'pending' to 'manager_approved' not allowed for your roles"]);
    expect((await manager!('put', `/leave_request/${id}`, { status: 'manager_approved' })).status).toBe(200);
    expect((await manager!('put', `/leave_request/${id}`, { status: 'approved' })).status).toBe(403);
    const approved = await hr!('put', `/leave_request/${id}`, { status: 'approved' });
    expect(approved.body.data.status).toBe('approved');
    expect(approved.body.data.approved_at).toMatch(RFC3339);

    // employee status: terminated only by HR (managers may not update employees at all), and not back to probation
    const person = await hr!('post', '/employee', {
      first_name: 'Ann',
      last_name: 'Lee',
      email: 'ann.lee@company.com',
      title: 'Engineer',
      department_id: '10000000-0000-0000-0000-000000000001',
      hire_date: '2026-01-05T09:00:00Z',
    });
    expect(person.body.data).toMatchObject({ status: 'active', hire_date: '2026-01-05' });
    expect(detail(await hr!('post', '/employee', { ...person.body.data, id: undefined, email: 'not-an-email' }))).toMatchObject({
      field: 'email',
      rule: 'pattern',
    });
    expect((await manager!('put', `/employee/${person.body.data.id}`, { status: 'terminated' })).status).toBe(403);
    expect((await hr!('put', `/employee/${person.body.data.id}`, { status: 'terminated' })).status).toBe(200);
    expect(detail(await hr!('put', `/employee/${person.body.data.id}`, { status: 'probation' }))).toMatchObject({ rule: 'state_machine' });
  });

  it('leave_approval: a short leave is approved at once; a long one waits for the manager, then HR, each deciding alone', async () => {
    const { employee, manager, hr } = ex.as as Record<string, Caller>;
    const short = await employee!('post', '/leave_request', leave(2, { type: 'sick' }));
    expect(short.body.data.status).toBe('pending'); // the workflow's write is not in the response ...
    expect((await employee!('get', `/leave_request/${short.body.data.id}`)).body.data.status).toBe('approved'); // ... but done before it

    const long = await employee!('post', '/leave_request', leave(9)); // status absent: its default starts the workflow too
    const [inst] = await pending(ex);
    expect(inst).toMatchObject({ current_step: 'manager_review', context: { record_id: long.body.data.id, days: 9, type: 'annual' } });
    expect((await hr!('get', '/_workflows/pending')).body.data).toEqual([]);
    expect((await employee!('post', `/_workflows/${inst!.id}/approve`)).status).toBe(403);
    expect((await hr!('post', `/_workflows/${inst!.id}/approve`)).status).toBe(403);

    const managers = await Promise.all([1, 2, 3].map(() => manager!('post', `/_workflows/${inst!.id}/approve`)));
    expect(managers.filter((r) => r.status === 200)).toHaveLength(1);
    expect((await hr!('get', '/_workflows/pending')).body.data.map((i: { current_step: string }) => i.current_step)).toEqual(['hr_review']);
    const decisions = await Promise.all([1, 2, 3].map(() => hr!('post', `/_workflows/${inst!.id}/approve`)));
    // one decides; the others lost the race (409) or came after it (422, no longer running)
    expect(decisions.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of decisions.filter((d) => d.status !== 200)) expect([409, 422]).toContain(r.status);
    const done = (await employee!('get', `/_workflows/${inst!.id}`)).body.data;
    expect(done.history.map((h: { step: string; status: string }) => `${h.step}:${h.status}`)).toEqual([
      'check_days:on_true',
      'manager_review:approved',
      'hr_review:approved',
      'approve_leave:completed',
    ]);
    expect((await employee!('get', `/leave_request/${long.body.data.id}`)).body.data.status).toBe('approved');

    // a manager's timeout rejects
    const late = await employee!('post', '/leave_request', leave(12));
    await expireDeadlines(ex);
    expect((await employee!('get', `/leave_request/${late.body.data.id}`)).body.data.status).toBe('rejected');
  });

  it('deleting an employee soft-deletes them, removes their leave, documents and attendance and frees their reports; a staffed department is restricted', async () => {
    const { hr, employee, admin } = ex.as as Record<string, Caller>;
    const reports = await admin!('get', `/employee?filter[manager_id]=${john}`);
    expect(reports.body.meta.total).toBeGreaterThan(0);
    const contract = await upload(ex, 'hr', 'contract.pdf', 'application/pdf', '%PDF');
    const doc = await hr!('post', '/document', { employee_id: john, title: 'Contract', type: 'contract', file: contract.id });
    expect(doc.status).toBe(201);
    expect((await employee!('post', '/attendance', { employee_id: john, date: '2026-12-01', status: 'remote' })).status).toBe(201);
    expect(
      (await admin!('get', `/employee/${john}?include=employee_leave_requests,employee_documents,employee_attendance`)).body.data.employee_documents,
    ).toHaveLength(1);

    expect((await hr!('delete', `/employee/${john}`)).status).toBe(200);
    expect((await employee!('get', `/employee/${john}`)).status).toBe(404);
    expect(await ex.runtime.db.query(`SELECT deleted_at IS NOT NULL AS gone FROM employees WHERE id = $1`, [john])).toEqual([{ gone: true }]);
    for (const table of ['leave_requests', 'documents', 'attendance']) {
      expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE employee_id = $1`, [john]), table).toEqual([{ n: 0 }]);
    }
    expect((await admin!('get', `/employee?filter[manager_id]=${john}`)).body.meta.total).toBe(0);

    const dept = '10000000-0000-0000-0000-000000000001';
    expect((await hr!('delete', `/department/${dept}`)).status).toBe(403); // no delete policy
    const restricted = await admin!('delete', `/department/${dept}`);
    expect([restricted.status, restricted.body.error.code]).toEqual([409, 'CONFLICT']);
  });
});

describe('skills-assessment', () => {
  let ex: Example;
  const alice = '40000000-0000-0000-0000-000000000001';
  const js = '30000000-0000-0000-0000-000000000001';
  beforeAll(async () => {
    ex = await example('skills-assessment.json', { examiner: ['examiner'], candidate: ['candidate'] });
  });

  it('its _users sample rows are not users', async () => {
    const users = await ex.as.admin!('get', '/_admin/users');
    expect(users.body.data.map((u: { email: string }) => u.email).sort()).toEqual([
      'admin@localhost',
      'candidate@example.org',
      'examiner@example.org',
    ]);
    const login = await s.client.post(`/api/${ex.app.name}/auth/login`, { body: { email: 'rachel.examiner@company.com', password: 'examiner123' } });
    expect(login.status).toBe(401);
  });

  it('a submitted attempt is graded by its workflow before the next read; both attempt webhooks are logged; graded is final', async () => {
    const { candidate } = ex.as as Record<string, Caller>;
    const attempt = await candidate!('post', '/attempt', { assessment_id: js, candidate_id: alice, started_at: '2026-12-01T10:00:00Z' });
    expect(attempt.body.data).toMatchObject({ status: 'in_progress', score: 0, passed: false });
    const id = attempt.body.data.id;
    const submitted = await candidate!('put', `/attempt/${id}`, { status: 'submitted' });
    expect(submitted.body.data.status).toBe('submitted');
    expect(submitted.body.data.submitted_at).toMatch(RFC3339);
    expect((await candidate!('get', `/attempt/${id}`)).body.data.status).toBe('graded');
    const logs = (await ex.as.admin!('get', '/_admin/webhook-logs?entity=attempt')).body.data.filter((l: any) => l.request_body.record.id === id);
    expect(logs.map((l: any) => l.url).sort()).toEqual([
      'https://hooks.example.com/assessment-graded',
      'https://hooks.example.com/assessment-submitted',
    ]);
    expect(detail(await candidate!('put', `/attempt/${id}`, { status: 'timed_out' }))).toMatchObject({
      message: "Invalid transition from 'graded' to 'timed_out'",
    });
  });

  it('publishing needs an examiner; only an admin decides the review, and a rejection reverts to draft', async () => {
    const { examiner, candidate, admin } = ex.as as Record<string, Caller>;
    expect(detail(await examiner!('post', '/assessment', { title: 'JS basics', time_limit_minutes: 4 }))).toMatchObject({
      field: 'time_limit_minutes',
      rule: 'min',
    });
    expect(detail(await examiner!('post', '/assessment', { title: 'JS basics', passing_score: 101 }))).toMatchObject({
      field: 'passing_score',
      rule: 'max',
    });
    expect((await candidate!('post', '/assessment', { title: 'Mine' })).status).toBe(403);
    const created = await examiner!('post', '/assessment', { title: 'Go basics' });
    expect(created.body.data).toMatchObject({ status: 'draft', time_limit_minutes: 60, passing_score: 70 });
    const id = created.body.data.id;
    const published = await examiner!('put', `/assessment/${id}`, { status: 'published' });
    expect(published.body.data.published_at).toMatch(RFC3339);
    const [inst] = await pending(ex);
    expect(inst).toMatchObject({ workflow_name: 'notify_on_assessment_publish', current_step: 'admin_review' });
    expect((await examiner!('get', '/_workflows/pending')).body.data).toEqual([]);
    expect((await examiner!('post', `/_workflows/${inst!.id}/reject`)).status).toBe(403);
    expect((await admin!('post', `/_workflows/${inst!.id}/reject`)).body.data.status).toBe('completed');
    // published → draft has no user transition; the workflow's system write makes it
    expect((await candidate!('get', `/assessment/${id}`)).body.data.status).toBe('draft');
    expect((await examiner!('put', `/assessment/${id}`, { status: 'archived' })).status).toBe(422);
  });

  it('answers: a candidate creates them nested in an attempt; an examiner may not add one, and a candidate may not change or remove one', async () => {
    const { examiner, candidate } = ex.as as Record<string, Caller>;
    const question = '20000000-0000-0000-0000-000000000001';
    const attempt = await candidate!('post', '/attempt', {
      assessment_id: js,
      candidate_id: alice,
      started_at: '2026-12-02T10:00:00Z',
      answers: { data: [{ question_id: question, selected_option: 'a' }] },
    });
    expect(attempt.status, JSON.stringify(attempt.body)).toBe(201);
    const id = attempt.body.data.id;
    const [answer] = (await candidate!('get', `/attempt/${id}?include=answers`)).body.data.answers;
    expect(answer).toMatchObject({ question_id: question, selected_option: 'a', is_correct: false });
    const bad = await candidate!('put', `/attempt/${id}`, { answers: { data: [{ question_id: question, selected_option: 'e' }] } });
    expect(detail(bad)).toMatchObject({ field: 'answers[0].selected_option', rule: 'enum' });
    const byExaminer = await examiner!('put', `/attempt/${id}`, { answers: { data: [{ question_id: question, selected_option: 'b' }] } });
    expect(byExaminer.status).toBe(403);
    expect(detail(byExaminer)).toMatchObject({ field: 'answers[0]', rule: 'permission' });
    expect((await candidate!('put', `/attempt/${id}`, { answers: { data: [{ id: answer.id, selected_option: 'c' }] } })).status).toBe(403);
    expect((await candidate!('put', `/attempt/${id}`, { answers: { data: [{ id: answer.id, _delete: true }] } })).status).toBe(403);
    expect((await candidate!('put', `/attempt/${id}`, { answers: { _write_mode: 'replace', data: [] } })).status).toBe(403);
    expect((await candidate!('get', `/attempt/${id}?include=answers`)).body.data.answers).toEqual([answer]);
  });

  it('restricts hold along the chains; deleting a candidate takes their invitations, attempts and answers', async () => {
    const { examiner, admin } = ex.as as Record<string, Caller>;
    const question = await examiner!('post', '/question', {
      title: 'Closures',
      body: 'What does a closure capture?',
      option_a: 'values',
      option_b: 'bindings',
      correct_answer: 'b',
      category_id: '10000000-0000-0000-0000-000000000001',
    });
    expect(question.body.data).toMatchObject({ points: 1, difficulty: 'medium' });
    expect(detail(await examiner!('post', '/question', { ...question.body.data, id: undefined, body: 'short', points: 0 }))).toMatchObject({
      field: 'body',
      rule: 'min_length',
    });
    const draft = '30000000-0000-0000-0000-000000000004';
    expect((await examiner!('post', '/assessment_question', { assessment_id: draft, question_id: question.body.data.id })).status).toBe(201);
    const held = await examiner!('delete', `/question/${question.body.data.id}`);
    expect([held.status, held.body.error.message]).toEqual([409, 'Cannot delete: 1 related assessment_question records exist']);
    expect((await admin!('delete', '/skill_category/10000000-0000-0000-0000-000000000001')).status).toBe(409);
    // the draft assessment has no invitations or attempts: its question links go with it
    expect((await examiner!('delete', `/assessment/${draft}`)).status).toBe(200);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM assessment_questions WHERE assessment_id = $1`, [draft])).toEqual([{ n: 0 }]);
    expect((await examiner!('delete', `/question/${question.body.data.id}`)).status).toBe(200);

    const marcus = '40000000-0000-0000-0000-000000000002';
    const attempts = await ex.runtime.db.query<{ id: string }>(`SELECT id FROM attempts WHERE candidate_id = $1`, [marcus]);
    expect(attempts.length).toBeGreaterThan(0);
    expect((await admin!('delete', `/candidate/${marcus}`)).status).toBe(200);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM invitations WHERE candidate_id = $1`, [marcus])).toEqual([{ n: 0 }]);
    expect(await ex.runtime.db.query(`SELECT count(*)::int AS n FROM attempts WHERE candidate_id = $1`, [marcus])).toEqual([{ n: 0 }]);
    expect(
      await ex.runtime.db.query(`SELECT count(*)::int AS n FROM answers WHERE attempt_id = ANY($1::uuid[])`, [attempts.map((a) => a.id)]),
    ).toEqual([{ n: 0 }]);
  });
});

describe('UI configs of an example entity', () => {
  it('an admin stores one; every role reads the default scope, and null for an entity without one', async () => {
    const ex = await example('helpdesk-ticketing.json', { customer: ['customer'] });
    const config = { list: { columns: ['title', 'status', 'priority'] }, form: { hidden: ['deleted_at'] } };
    const created = await ex.as.admin!('post', '/_admin/ui-configs', { entity: 'ticket', config });
    expect(created.status).toBe(201);
    await ex.as.admin!('post', '/_admin/ui-configs', { entity: 'ticket', scope: 'mobile', config: {} });
    expect((await ex.as.customer!('get', '/_ui/config/ticket')).body.data).toMatchObject({ entity: 'ticket', scope: 'default', config });
    expect((await ex.as.customer!('get', '/_ui/configs')).body.data.map((c: { scope: string }) => c.scope)).toEqual(['default']);
    expect((await ex.as.customer!('get', '/_ui/config/agent')).body).toEqual({ data: null });
    expect((await ex.as.customer!('post', '/_admin/ui-configs', { entity: 'ticket', scope: 'x' })).status).toBe(403);
    // exported with the schema, and upserted (not duplicated) when that export is imported again
    const exported = await ex.as.admin!('get', '/_admin/export');
    expect(exported.body.data.ui_configs).toEqual([
      { entity: 'ticket', scope: 'default', config },
      { entity: 'ticket', scope: 'mobile', config: {} },
    ]);
    const again = await ex.as.admin!('post', '/_admin/import', exported.body);
    expect(again.body.data.summary).toMatchObject({ entities: 0, ui_configs: 2 });
    expect((await ex.as.admin!('get', '/_admin/ui-configs')).body.data).toHaveLength(2);
  });
});
