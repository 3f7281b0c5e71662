import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/schema.js';

describe('configuration', () => {
  it('runs on defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, demo: true, dataDir: './data' });
    expect(config.workers).toBeGreaterThanOrEqual(1);
  });

  it('reads the environment', () => {
    const config = loadConfig({ PORT: '8080', DIEMCAU_DEMO: 'false', DIEMCAU_WORKERS: '4' });
    expect(config).toMatchObject({ port: 8080, demo: false, workers: 4 });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ DIEMCAU_TOKEN_SECRET: 'short' })).toThrow(/DIEMCAU_TOKEN_SECRET/);
  });

  it('trusts no proxy by default, and a proxy only by its address or a hop count, never every address', () => {
    const trust = (value: string) => loadConfig({ DIEMCAU_TRUST_PROXY: value }).trustProxy;
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(trust('false')).toBe(false);
    expect(trust('0')).toBe(false);
    expect(trust('1')).toBe(1);
    expect(trust('loopback')).toEqual(['loopback']);
    expect(trust('127.0.0.1, 10.0.0.0/8, fc00::/7')).toEqual(['127.0.0.1', '10.0.0.0/8', 'fc00::/7']);
    for (const refused of ['true', 'yes', '11', 'nginx', '10.0.0.0/33', '*']) {
      expect(() => trust(refused), refused).toThrow(/DIEMCAU_TRUST_PROXY/);
    }
    expect(() => loadConfig({}, { trustProxy: true as never })).toThrow(/every address/);
  });
});
