import { readinessWarnings, type ReadinessFigures, type ReadinessProblem, type ReadinessVerdict } from '../../protocol/index.js';

/**
 * Where a point's link stops being good enough for a session: a picture and
 * voice that arrive late (RTT), a camera the upload cannot carry, a program
 * the download cannot carry, or loss that breaks the picture. Chosen for a
 * commune room sending one 360p–720p camera and receiving the program.
 */
export const readinessThresholds = {
  maxRttMs: 300,
  minUploadKbps: 500,
  minDownloadKbps: 500,
  maxLoss: 0.03,
  /** A microphone quieter than this at its loudest (0..1 of full scale) heard nothing. */
  minMicLevel: 0.01,
} as const;

/**
 * The plain verdict on what the page measured: every problem found, and
 * 'ready' when the only ones are warnings (TCP only: media flows, later).
 */
export function readinessVerdict(figures: ReadinessFigures): { verdict: ReadinessVerdict; problems: ReadinessProblem[] } {
  const t = readinessThresholds;
  const problems: ReadinessProblem[] = [];
  if (!figures.camera) problems.push('no-camera');
  if (figures.micLevel < t.minMicLevel) problems.push('mic-silent');
  if (figures.speakers !== 'heard') problems.push('speakers-not-confirmed');
  if (figures.transport === null) {
    // Nothing got through: the figures below would only repeat it.
    problems.push('network-unreachable');
  } else {
    if (figures.transport === 'tcp') problems.push('tcp-only');
    if (figures.rttMs !== null && figures.rttMs > t.maxRttMs) problems.push('high-rtt');
    if (figures.uploadKbps === null || figures.uploadKbps < t.minUploadKbps) problems.push('low-upload');
    if (figures.downloadKbps === null || figures.downloadKbps < t.minDownloadKbps) problems.push('low-download');
    if (figures.loss !== null && figures.loss > t.maxLoss) problems.push('high-loss');
  }
  const verdict = problems.every((p) => readinessWarnings.includes(p)) ? 'ready' : 'problem';
  return { verdict, problems };
}
