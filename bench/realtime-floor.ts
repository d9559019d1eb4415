/**
 * The floor of bench/realtime.ts (`--floor`): a stand-in SSE server that costs what any change feed must at
 * the least — one socket write per stream per round, frames of the size Rocket sends — and nothing else (no
 * capture, no sequencing, no query). Run as its own process; the subscribers read it instead of Rocket
 * while Rocket takes the same load without any stream. What S3 loses then is what the benchmark's own
 * subscribers and the bare fan-out take from the machine, whatever the feed's design.
 *
 *   node --import tsx bench/realtime-floor.ts <events per second> <round ms>
 */
import http from 'node:http';

const rate = Number(process.argv[2]);
const tickMs = Number(process.argv[3]);
const streams = new Set<http.ServerResponse>();
// A create of the benchmark's customer as Rocket frames it (same keys, same lengths).
const frame = (id: number) =>
  `id: ${id}\nevent: change\ndata: {"entity":"customer","action":"create","id":"0b6f3a52-8c1e-4d7a-9f10-${String(id).padStart(12, '0')}",` +
  `"record":{"id":"0b6f3a52-8c1e-4d7a-9f10-${String(id).padStart(12, '0')}","name":"New ${id}","email":"rt-x7k2b-${id}@example.com",` +
  `"status":"lead","created_at":"2026-12-07T23:10:00.123Z","updated_at":"2026-12-07T23:10:00.123Z"},` +
  `"at":"2026-12-07T23:10:00.123Z","by":"5d1c7e0a-2b4f-4c8e-8a61-3f9d2e7b6c10"}\n\n`;

let sent = 0;
let started = 0;
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  res.write('event: ready\ndata: {}\n\n');
  streams.add(res);
  req.on('close', () => streams.delete(res));
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.stdin.on('data', (d) => {
  if (String(d).includes('start')) {
    started = performance.now();
    sent = 0;
    setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      if (due <= sent || streams.size === 0) return;
      let text = '';
      for (let id = sent + 1; id <= due; id++) text += frame(id);
      sent = due;
      const bytes = Buffer.from(text);
      for (const s of streams) s.write(bytes);
    }, tickMs);
  }
});
