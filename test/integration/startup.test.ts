import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, checkListenSafety, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startTestServer } from '../support/server.js';

// Issue 12 items 11 and 12: how the server starts.

function captured(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  (stream as { isTTY?: boolean }).isTTY = isTTY;
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  return { stream, text: () => out };
}

describe('log format', () => {
  it('pretty lines on a terminal, JSON lines otherwise or when LOG_FORMAT=json', async () => {
    const tty = captured(true);
    createLogger({ logLevel: 'info', logFormat: 'auto' }, tty.stream).info({ url: 'http://127.0.0.1:8080' }, 'Rocket is serving');
    const pipe = captured(false);
    createLogger({ logLevel: 'info', logFormat: 'auto' }, pipe.stream).info('Rocket is serving');
    const asked = captured(true);
    createLogger({ logLevel: 'info', logFormat: 'json' }, asked.stream).info('Rocket is serving');
    await new Promise((r) => setTimeout(r, 50));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour escapes pino-pretty writes
    const plain = tty.text().replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: Rocket is serving\n/);
    expect(plain).toContain('url: "http://127.0.0.1:8080"');
    expect(() => JSON.parse(tty.text())).toThrow();
    for (const out of [pipe.text(), asked.text()]) expect(JSON.parse(out)).toMatchObject({ level: 30, msg: 'Rocket is serving' });
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
  });
});

describe('listening address', () => {
  it('defaults to loopback', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
  });

  it('refuses a non-loopback address while the platform password is the default', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.5']) {
      expect(() => checkListenSafety(loadConfig({ HOST: host }))).toThrow(ConfigError);
      expect(() => checkListenSafety(loadConfig({ HOST: host, ROCKET_PLATFORM_PASSWORD: 'a-real-secret' }))).not.toThrow();
    }
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) expect(() => checkListenSafety(loadConfig({ HOST: host }))).not.toThrow();
  });

  it('an admin seeded with the default password takes the configured one at the next start, so the check above holds', async () => {
    const first = await startTestServer();
    const share = { managementDb: first.managementDb, dataDir: first.dataDir };
    const session = await first.client.post('/api/_platform/auth/login', { body: { email: first.config.platformEmail, password: 'changeme' } });
    expect(session.status).toBe(200);
    await first.rocket.close();
    const exposed = await startTestServer({ HOST: '0.0.0.0', ROCKET_PLATFORM_PASSWORD: 'a-real-secret-pw' }, share);
    try {
      const login = (password: string) =>
        exposed.client.post('/api/_platform/auth/login', { body: { email: exposed.config.platformEmail, password } });
      expect((await login('changeme')).status).toBe(401);
      expect((await login('a-real-secret-pw')).status).toBe(200);
      // sessions opened with the default password ended with it
      const refresh = await exposed.client.post('/api/_platform/auth/refresh', { body: { refresh_token: session.body.data.refresh_token } });
      expect(refresh.status).toBe(401);
    } finally {
      await exposed.close();
    }
  }, 60_000);

  it('the server process stops at start-up with a message saying how to set the password', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOST: '0.0.0.0', PORT: '0', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    expect(code).toBe(2);
    expect(stderr).toContain('refusing to listen on HOST=0.0.0.0 while the platform admin password is the default one');
    expect(stderr).toContain('ROCKET_PLATFORM_PASSWORD');
  }, 60_000);
});
