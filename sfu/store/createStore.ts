import type { Logger } from '../logger.js';
import { EmbeddedStore } from './EmbeddedStore.js';
import { RedisStore } from './RedisStore.js';
import type { Store } from './Store.js';

/** Redis when a URL is configured, else the embedded store in the data folder. */
export async function createStore(options: { dataDir: string; redisUrl?: string; logger?: Logger }): Promise<Store> {
  return options.redisUrl ? RedisStore.connect(options.redisUrl, { logger: options.logger }) : new EmbeddedStore(options.dataDir);
}
