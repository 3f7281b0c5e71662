import type { Config } from '../../config/schema.js';

/** The configured limits that signaling enforces (see config/schema.ts). */
export type SignalingLimits = Pick<
  Config,
  'maxTransportsPerPeer' | 'maxProducersPerPeer' | 'maxRequestsPerSecond' | 'maxSendBufferKb' | 'maxPeersPerNode'
>;
