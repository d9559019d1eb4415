import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { RocketError } from '../errors.js';
import type { AppRuntime } from '../platform/app-runtime.js';
import { openCore, type RocketCore } from '../rocket.js';
import { CliError } from './output.js';

/** The configuration every command reads (environment, rocket.yaml); a bad setting is exit code 2. */
export function cliConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

/** Commands log warnings and worse to stderr (stdout carries the result), unless LOG_LEVEL says otherwise. */
export function cliLogger(): Logger {
  return pino({ level: process.env.LOG_LEVEL || 'warn' }, pino.destination(2));
}

/** Opens the core straight on the database, runs the work, and always closes it. */
export async function withCore<T>(work: (core: RocketCore) => Promise<T>): Promise<T> {
  const core = await openCore(cliConfig(), cliLogger(), { attach: true });
  try {
    return await work(core);
  } catch (err) {
    if (err instanceof RocketError) throw new CliError(detailed(err));
    throw err;
  } finally {
    await core.close();
  }
}

export async function appRuntime(core: RocketCore, name: string): Promise<AppRuntime> {
  const app = await core.services.apps.get(name);
  if (!app) throw new CliError(`app not found: ${name}`);
  return app;
}

function detailed(err: RocketError): string {
  const details = err.details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
  return details.length > 0 ? `${err.message} (${details.join('; ')})` : err.message;
}
