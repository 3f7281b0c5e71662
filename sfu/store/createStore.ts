import { EmbeddedStore } from './EmbeddedStore.js';
import { RedisStore } from './RedisStore.js';
import type { Store } from './Store.js';

/** Redis when a URL is configured, else the embedded store in the data folder. */
export async function createStore(options: { dataDir: string; redisUrl?: string }): Promise<Store> {
  return options.redisUrl ? RedisStore.connect(options.redisUrl) : new EmbeddedStore(options.dataDir);
}
