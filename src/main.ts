import { run } from './cli/program.js';

// `node dist/main.js` (what `npm start` runs) is `rocket start`.
await run([...process.argv.slice(0, 2), 'start', ...process.argv.slice(2)]);
