import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { SYSTEM_ACTOR } from '../auth/caller.js';
import { exactJsonIndented, parseExactJson } from '../db/exact-json.js';
import { createUser, resetPassword } from '../auth/users.js';
import { auditedImport, recordChange, withoutTimestamps } from '../history/audit.js';
import { exportSchema } from '../metadata/transfer.js';
import { CliError, readStdin, table, type Output } from './output.js';
import { appRuntime, withCore } from './session.js';

/** `rocket apps …`, `export`, `import`, `users …`: the platform and app admin operations, run on the database. */

export async function appsList(out: Output): Promise<void> {
  const apps = await withCore((core) => core.services.apps.list());
  out.result(apps, table(apps, ['name', 'display_name', 'db_name', 'status', 'created_at']));
}

export interface AppsCreateOptions {
  displayName?: string;
  adminEmail?: string;
  adminPassword?: string;
  database?: string;
}

export async function appsCreate(out: Output, name: string, opts: AppsCreateOptions): Promise<void> {
  const created = await withCore((core) =>
    out.progress(`creating app ${name}`, () =>
      core.services.apps.create({
        name,
        display_name: opts.displayName,
        admin_email: opts.adminEmail,
        admin_password: opts.adminPassword,
        database: opts.database,
      }),
    ),
  );
  out.result(created, `created app ${created.name} (database ${created.db_name})`);
}

export async function appsDelete(out: Output, name: string, opts: { yes?: boolean }): Promise<void> {
  if (!opts.yes) throw new CliError(`deleting app ${name} drops its database: confirm with --yes`);
  await withCore((core) => out.progress(`deleting app ${name}`, () => core.services.apps.delete(name)));
  out.result({ name, deleted: true }, `deleted app ${name}`);
}

export async function exportApp(out: Output, app: string, opts: { output?: string }): Promise<void> {
  const doc = await withCore(async (core) => {
    const runtime = await appRuntime(core, app);
    return out.progress(`exporting ${app}`, () => exportSchema(runtime, runtime.extensions.transferSections));
  });
  // Numbers a double cannot hold (a bigint rule threshold) are written with their digits, as the API writes them.
  const text = `${exactJsonIndented(doc)}\n`;
  if (opts.output === undefined || opts.output === '-') {
    process.stdout.write(text);
    return;
  }
  try {
    await writeFile(opts.output, text);
  } catch (err) {
    throw new CliError(`${opts.output}: ${(err as Error).message}`);
  }
  out.result({ app, file: opts.output }, `exported ${app} to ${opts.output}`);
}

export async function importApp(out: Output, app: string, file: string): Promise<void> {
  let doc: unknown;
  try {
    // Exact, as the API parses an import: sample rows keep numbers a double would round.
    doc = parseExactJson(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  const result = await withCore(async (core) => {
    const runtime = await appRuntime(core, app);
    // Audited as an import through the API is, by the system actor (the command line acts for no user); its
    // sample rows become realtime events for the servers' subscribers, as an API import's do.
    const realtime = core.services.realtime;
    await realtime?.joinAsWriter();
    const result = await out.progress(`importing ${file} into ${app}`, () =>
      auditedImport(runtime, SYSTEM_ACTOR, doc, realtime ? [realtime.sampleRows(runtime.name, SYSTEM_ACTOR)] : []),
    );
    await realtime?.announce(runtime);
    return result;
  });
  const counts = Object.entries(result.summary)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const errors = result.errors?.length ? `\n${result.errors.map((e) => `  ! ${e}`).join('\n')}` : '';
  out.result(result, `${result.message} (${counts})${errors}`);
}

export interface UsersCreateOptions {
  roles?: string;
  passwordStdin?: boolean;
}

export async function usersCreate(out: Output, app: string, email: string, opts: UsersCreateOptions): Promise<void> {
  const generated = opts.passwordStdin ? undefined : randomBytes(12).toString('base64url');
  const password = generated ?? (await readStdin());
  const roles =
    opts.roles === undefined
      ? []
      : opts.roles
          .split(',')
          .map((r) => r.trim())
          .filter((r) => r !== '');
  const user = await withCore(async (core) => {
    const runtime = await appRuntime(core, app);
    const created = await createUser(runtime, { email, password, roles });
    await recordChange(runtime.db, SYSTEM_ACTOR, {
      collection: '_users',
      key: created.id,
      action: 'create',
      before: null,
      after: withoutTimestamps(created),
    });
    return created;
  });
  const shown = generated === undefined ? user : { ...user, password: generated };
  out.result(shown, `created user ${user.email} (${user.id})${generated ? `\npassword: ${generated}` : ''}`);
}

export async function usersResetPassword(out: Output, app: string, email: string, opts: { passwordStdin?: boolean }): Promise<void> {
  if (!opts.passwordStdin) throw new CliError('reset-password reads the new password from stdin: add --password-stdin');
  const password = await readStdin();
  const user = await withCore(async (core) => {
    const runtime = await appRuntime(core, app);
    const updated = await resetPassword(runtime, email, password);
    await runtime.sessions.unlock(updated.email);
    const view = withoutTimestamps(updated);
    await recordChange(runtime.db, SYSTEM_ACTOR, { collection: '_users', key: updated.id, action: 'update', before: view, after: view });
    return updated;
  });
  out.result(user, `password of ${user.email} reset; their sessions have ended`);
}
