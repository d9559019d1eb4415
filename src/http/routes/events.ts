import { type Area, withAccess } from '../context.js';

/**
 * POST /api/:app/_events: event tracing is out of scope (README), but clients written for the legacy API
 * report their instrumentation events here and expect the legacy answer; the events are not kept.
 */
export const eventsArea: Area = async (area, { services }) =>
  withAccess(area, services, 'user', (app) => {
    app.post('/', async () => ({ data: { status: 'ok' } }));
  });
