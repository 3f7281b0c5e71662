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
});
