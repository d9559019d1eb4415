// Preloaded by bench/instructions.ts into the measured server (with --expose-gc): SIGUSR2 runs a full
// garbage collection, so every measured window starts from the same heap state. The count of collections done
// goes to the file BENCH_GC_ACK names: the signal is handled at some later turn of the event loop (much later
// under valgrind), and a collection that fell inside the window would be counted as the requests' work.
import { writeFileSync } from 'node:fs';

let done = 0;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  done += 1;
  if (process.env.BENCH_GC_ACK) writeFileSync(process.env.BENCH_GC_ACK, String(done));
});
