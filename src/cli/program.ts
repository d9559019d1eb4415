import cluster from 'node:cluster';
import { Command, CommanderError } from 'commander';
import { appsCreate, appsDelete, appsList, exportApp, importApp, usersCreate, usersResetPassword } from './admin-commands.js';
import { doctor } from './doctor.js';
import { CliError, output, type Output } from './output.js';
import { cliConfig } from './session.js';
import { serve, servePrimary, workerCount } from './start.js';
import { ConfigError, checkListenSafety } from '../config.js';
import { RocketError } from '../errors.js';
import { createLogger } from '../logger.js';

/** The `rocket` command (spec: operations.md §Command line). */
export function program(): Command {
  const root = new Command('rocket')
    .description('Rocket: a metadata-driven backend on PostgreSQL')
    .option('--json', 'write machine-readable JSON to stdout')
    .exitOverride()
    // Usage errors are reported once, on one line, by run() below (JSON with --json); that includes a
    // missing command, for which commander would print the whole help on stderr (`--help` still prints it).
    .configureOutput({ outputError: () => undefined, writeErr: () => undefined });
  const out = (): Output => output(Boolean(root.opts<{ json?: boolean }>().json));

  root
    .command('start')
    .description('serve the API and the console (what `npm start` runs)')
    .option('-w, --workers <n>', 'server processes sharing the port; "auto" = one per CPU (default: ROCKET_WORKERS or 1)')
    .action(async (opts: { workers?: string }) => {
      const config = cliConfig();
      try {
        checkListenSafety(config);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }
      const log = createLogger(config);
      const workers = workerCount(opts.workers ?? config.workers);
      if (workers === 1 || cluster.isWorker) await serve(config, log);
      else await servePrimary(config, log, workers);
    });

  const apps = root.command('apps').description('manage apps straight on the database');
  apps
    .command('list')
    .description('list apps')
    .action(() => appsList(out()));
  apps
    .command('create <name>')
    .description('create an app (its own database, system tables and admin user)')
    .option('--display-name <text>', 'display name')
    .option('--admin-email <email>', 'email of the seeded admin (default admin@localhost)')
    .option('--admin-password <password>', 'password of the seeded admin (default changeme)')
    .option('--database <server>', 'placement server of ROCKET_DATABASES (default main)')
    .action((name: string, opts) => appsCreate(out(), name, opts));
  apps
    .command('delete <name>')
    .description('delete an app and drop its database')
    .option('--yes', 'confirm the deletion')
    .action((name: string, opts: { yes?: boolean }) => appsDelete(out(), name, opts));

  root
    .command('export <app>')
    .description("write the app's schema export document (stdout by default)")
    .option('-o, --output <file>', 'write to this file')
    .action((app: string, opts: { output?: string }) => exportApp(out(), app, opts));
  root
    .command('import <app> <file>')
    .description('import a schema export document and print the summary')
    .action((app: string, file: string) => importApp(out(), app, file));

  const users = root.command('users').description("manage an app's users");
  users
    .command('create <app> <email>')
    .description('create a user (a random password is generated and printed unless --password-stdin)')
    .option('--roles <roles>', 'comma-separated roles, e.g. admin,editor')
    .option('--password-stdin', 'read the password from stdin')
    .action((app: string, email: string, opts) => usersCreate(out(), app, email, opts));
  users
    .command('reset-password <app> <email>')
    .description("set a user's password (ends their sessions and clears a login lock)")
    .option('--password-stdin', 'read the new password from stdin (required)')
    .action((app: string, email: string, opts: { passwordStdin?: boolean }) => usersResetPassword(out(), app, email, opts));

  root
    .command('doctor')
    .description('check configuration, database, connections and storage, and say what to fix')
    .action(async () => {
      if (!(await doctor(out()))) process.exitCode = 1;
    });
  return root;
}

/** The usage error of `rocket` or `rocket apps` without a command: which ones there are. */
function missingCommand(root: Command, args: readonly string[]): string {
  let at = root;
  const path = ['rocket'];
  for (const arg of args) {
    const sub = at.commands.find((c) => c.name() === arg);
    if (!sub) continue;
    at = sub;
    path.push(arg);
  }
  const names = at.commands.map((c) => c.name()).join(', ');
  return `${path.join(' ')} needs a command: ${names} (see ${path.join(' ')} --help)`;
}

/** Runs the command line; errors end as one line on stderr and a non-zero exit code. */
export async function run(argv: readonly string[]): Promise<void> {
  const root = program();
  try {
    await root.parseAsync(argv as string[]);
  } catch (err) {
    const usage = err instanceof CommanderError;
    if (usage && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)) {
      process.exitCode = err.exitCode;
      return;
    }
    const text = usage
      ? err.code === 'commander.help'
        ? missingCommand(root, argv.slice(2))
        : `${err.message.replace(/^error: /, '')} (see rocket --help)`
      : err instanceof CliError || err instanceof RocketError
        ? err.message
        : `unexpected error: ${(err as Error).message ?? String(err)}`;
    // One line whatever the message carries (JSON.parse quotes the text around a syntax error, line breaks and all).
    const message = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
    // With a usage error the options may not have been parsed: --json is looked for in argv too.
    if (root.opts<{ json?: boolean }>().json || (argv as string[]).includes('--json'))
      process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    process.stderr.write(`rocket: ${message}\n`);
    process.exitCode = usage ? err.exitCode : err instanceof CliError ? err.exitCode : 1;
  }
}
