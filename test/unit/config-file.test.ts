import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'rocket-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('rocket.yaml', () => {
  it('supplies settings, a mapping included, and the environment wins over it', () => {
    const path = file('ok.yaml', 'port: 9123\nlog_level: debug\ndatabases:\n  eu: postgres://eu.example/rocket\n');
    const config = loadConfig({ ROCKET_CONFIG: path, LOG_LEVEL: 'error' });
    expect(config.port).toBe(9123);
    expect(config.logLevel).toBe('error');
    expect(config.databases).toEqual({ eu: 'postgres://eu.example/rocket' });
  });

  it('names an unknown key, a file that is not a mapping, and a missing file', () => {
    expect(() => loadConfig({ ROCKET_CONFIG: file('unknown.yaml', 'prot: 1\n') })).toThrow(/unknown setting "prot"/);
    expect(() => loadConfig({ ROCKET_CONFIG: file('list.yaml', '- a\n- b\n') })).toThrow(/must be a mapping/);
    expect(() => loadConfig({ ROCKET_CONFIG: join(dir, 'absent.yaml') })).toThrow(ConfigError);
  });
});

describe('cors_origins', () => {
  const none = () => file('empty.yaml', '');
  it('takes * or a list of origins, from the environment or as a YAML list', () => {
    expect(loadConfig({ ROCKET_CONFIG: none(), ROCKET_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    const path = file('cors.yaml', 'cors_origins:\n  - https://app.example.com\n  - http://localhost:5173\n');
    expect(loadConfig({ ROCKET_CONFIG: path }).corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(loadConfig({ ROCKET_CONFIG: none() }).corsOrigins).toEqual([]);
  });

  it('refuses what is not an origin, naming the setting', () => {
    for (const bad of ['https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'ftp://x.example', '*,https://a.example']) {
      expect(() => loadConfig({ ROCKET_CONFIG: none(), ROCKET_CORS_ORIGINS: bad })).toThrow(/invalid setting ROCKET_CORS_ORIGINS: must be \*/);
    }
  });
});
