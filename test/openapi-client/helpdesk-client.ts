/**
 * A client of the helpdesk example written only against the types openapi-typescript generates
 * from the app's /_openapi document (generated/ is written by test/integration/openapi-examples.test.ts,
 * which compiles this file with `tsc --strict` and then runs it against the server).
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/helpdesk-ticketing.js';

type Ticket = components['schemas']['Ticket'];
type Customer = components['schemas']['Customer'];
type ApiError = components['schemas']['Error'];

export interface Outcome {
  customer: Customer;
  ticket: Ticket;
  listed: Ticket[];
  total: number | undefined;
  fetched: Ticket;
  invalid: { status: number; error: ApiError | undefined };
  missing: { status: number; error: ApiError | undefined };
}

export async function run(baseUrl: string, token: string): Promise<Outcome> {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const c = await api.POST('/customer', { body: { name: 'Ada Lovelace', email: `ada.${Date.now()}@example.com`, company: 'Engines' } });
  if (!c.data) throw new Error(`create customer: ${c.response.status}`);
  const customer: Customer = c.data.data;

  const t = await api.POST('/ticket', {
    body: { title: 'Printer jams daily', description: 'Paper tray 2', priority: 'critical', customer_id: customer.id },
  });
  if (!t.data) throw new Error(`create ticket: ${t.response.status}`);
  const ticket: Ticket = t.data.data;

  const list = await api.GET('/ticket', {
    params: { query: { 'filter[priority]': 'critical', 'filter[customer_id]': customer.id, include: 'customer', sort: '-created_at', per_page: 10 } },
  });
  if (!list.data) throw new Error(`list tickets: ${list.response.status}`);

  const one = await api.GET('/ticket/{id}', { params: { path: { id: ticket.id }, query: { include: 'customer,ticket_responses' } } });
  if (!one.data) throw new Error(`get ticket: ${one.response.status}`);

  // A body the types accept but a rule of the app refuses (title shorter than 5 characters).
  const bad = await api.POST('/ticket', { body: { title: 'Bad', description: 'x', customer_id: customer.id } });
  const gone = await api.GET('/ticket/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } });

  return {
    customer,
    ticket,
    listed: list.data.data,
    total: list.data.meta.total,
    fetched: one.data.data,
    invalid: { status: bad.response.status, error: bad.error },
    missing: { status: gone.response.status, error: gone.error },
  };
}
