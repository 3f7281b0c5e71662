/**
 * When a receiver's link is too weak for the picture it gets, it should see
 * a smaller picture, not a frozen one. The browser reports the share of
 * program packets it loses every 2 s; this decides, from the last reports,
 * whether to hold its video at the lowest simulcast layer or let it climb
 * again. mediasoup's own bandwidth estimate already moves layers; this
 * catches the lossy links the estimate does not see (rural radio, old Wi-Fi).
 */

/** Loss above this in each of the last `capAfter` reports: hold the lowest layer. */
export const capLoss = 0.08;
export const capAfter = 3;
/** Loss below this in each of the last `releaseAfter` reports: let it climb. */
export const releaseLoss = 0.02;
export const releaseAfter = 5;
export const historyLength = Math.max(capAfter, releaseAfter);

export type WeakLinkDecision = 'cap' | 'release' | 'keep';

export function decideWeakLink(losses: readonly number[], capped: boolean): WeakLinkDecision {
  const last = (n: number) => (losses.length >= n ? losses.slice(-n) : undefined);
  if (!capped) {
    const recent = last(capAfter);
    return recent?.every((loss) => loss > capLoss) ? 'cap' : 'keep';
  }
  const recent = last(releaseAfter);
  return recent?.every((loss) => loss < releaseLoss) ? 'release' : 'keep';
}
