/**
 * The subscribers of bench/realtime.ts, in a worker thread: reading 100 streams must not hold up
 * the event loop that drives the load (in production the subscribers are other machines). Each
 * stream counts its change events and reports when a probe's event (a record named `probe …`)
 * arrived, as an absolute time (performance.timeOrigin + now) the main thread can compare.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

export interface SubscribersSetup {
  url: string;
  token: string;
  count: number;
}

export type SubscribersMessage =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'probe'; id: string; at: number }
  | { type: 'closed'; events: number; busy: number };

const setup = workerData as SubscribersSetup;
const port = parentPort!;
const PROBE = '"name":"probe ';
const ID = '"id":"';

let events = 0;
const started = performance.eventLoopUtilization();
const requests: http.ClientRequest[] = [];

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(setup.url, { headers: { authorization: `Bearer ${setup.token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`subscribe: ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      let ready = false;
      res.on('data', (chunk: string) => {
        const at = performance.timeOrigin + performance.now();
        buffer += chunk;
        const end = buffer.lastIndexOf('\n\n');
        if (end < 0) return;
        const whole = buffer.slice(0, end + 2);
        buffer = buffer.slice(end + 2);
        if (!ready && whole.includes('event: ready')) {
          ready = true;
          resolve();
        }
        for (let i = whole.indexOf('event: change'); i >= 0; i = whole.indexOf('event: change', i + 13)) events++;
        for (let i = whole.indexOf(PROBE); i >= 0; i = whole.indexOf(PROBE, i + PROBE.length)) {
          const idAt = whole.lastIndexOf(ID, i);
          if (idAt >= 0)
            port.postMessage({
              type: 'probe',
              id: whole.slice(idAt + ID.length, whole.indexOf('"', idAt + ID.length)),
              at,
            } satisfies SubscribersMessage);
        }
      });
    });
    req.on('error', reject);
    requests.push(req);
  });
}

port.on('message', (msg: string) => {
  if (msg !== 'close') return;
  for (const r of requests) r.destroy();
  // How busy reading the streams kept this thread: the bench's own share of the machine.
  const busy = performance.eventLoopUtilization(started).utilization;
  port.postMessage({ type: 'closed', events, busy } satisfies SubscribersMessage);
});

Promise.all(Array.from({ length: setup.count }, open)).then(
  () => port.postMessage({ type: 'ready' } satisfies SubscribersMessage),
  (err: unknown) => port.postMessage({ type: 'failed', error: String(err) } satisfies SubscribersMessage),
);
