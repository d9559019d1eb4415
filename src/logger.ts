import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type prettyFactory from 'pino-pretty';
import type { Config } from './config.js';

/**
 * The server's logger: readable coloured lines when a person watches a
 * terminal, JSON lines (one object per line, for log collectors) otherwise or
 * when LOG_FORMAT=json.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, stdout: NodeJS.WriteStream = process.stdout): Logger {
  const usePretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && stdout.isTTY === true);
  if (!usePretty) return pino({ level: config.logLevel }, stdout);
  // Loaded only for a terminal: a server logging JSON never pays for the formatter's memory.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof prettyFactory;
  return pino(
    { level: config.logLevel },
    pretty({ colorize: stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true, destination: stdout }),
  );
}
