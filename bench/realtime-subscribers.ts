/**
 * The subscribers of bench/realtime.ts, in a worker thread: reading 100 streams must not hold up
 * the event loop that drives the load (in production the subscribers are other machines). Each
 * stream counts its change events and reports when a probe's event (a record named `probe …`)
 * arrived, as an absolute time (performance.timeOrigin + now) the main thread can compare.
 */
import { readFileSync } from 'node:fs';
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
  | { type: 'closed'; events: number; busy: number; cpu: number | undefined };

const setup = workerData as SubscribersSetup;
const port = parentPort!;
const PROBE = '"name":"probe ';
const ID = '"id":"';

/**
 * CPU time of this thread so far, in ms (Linux: utime + stime of /proc/thread-self/stat, in 100 Hz ticks);
 * undefined elsewhere. Busy time alone also counts the time the thread waited for a core.
 */
function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

let events = 0;
const started = performance.eventLoopUtilization();
const cpuStarted = threadCpuMs();
const wallStarted = performance.now();
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
  const cpuNow = threadCpuMs();
  const cpu = cpuNow === undefined || cpuStarted === undefined ? undefined : (cpuNow - cpuStarted) / (performance.now() - wallStarted);
  port.postMessage({ type: 'closed', events, busy, cpu } satisfies SubscribersMessage);
});

Promise.all(Array.from({ length: setup.count }, open)).then(
  () => port.postMessage({ type: 'ready' } satisfies SubscribersMessage),
  (err: unknown) => port.postMessage({ type: 'failed', error: String(err) } satisfies SubscribersMessage),
);
