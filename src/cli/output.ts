import { createSpinner } from 'nanospinner';

/** A failure the user can fix: printed as one line, exit code 1 (2 for configuration). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Output {
  readonly json: boolean;
  /** The command's result: JSON on stdout with --json, else the human text. */
  result(value: unknown, human: string): void;
  /** Runs a long step with a spinner on an interactive terminal (stderr), silently otherwise. */
  progress<T>(label: string, work: () => Promise<T>): Promise<T>;
}

export function output(json: boolean): Output {
  // A terminal that reports no width (a pty with no window size) would make the spinner redraw forever.
  const interactive = Boolean(process.stderr.isTTY) && (process.stderr.columns ?? 0) > 0 && !json;
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
    },
    async progress(label, work) {
      if (!interactive) return work();
      const spinner = createSpinner(label, { stream: process.stderr }).start();
      try {
        const value = await work();
        spinner.success();
        return value;
      } catch (err) {
        spinner.error();
        throw err;
      }
    },
  };
}

/** Reads a secret piped on stdin (`--password-stdin`), without its trailing newline. */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliError('--password-stdin: pipe the password on stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new CliError('--password-stdin: no password on stdin');
  return text;
}

/** Rows as aligned columns for the terminal. */
export function table<R extends object>(rows: readonly R[], columns: readonly (keyof R & string)[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v ?? ''));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}
