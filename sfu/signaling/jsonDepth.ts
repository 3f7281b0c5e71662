/**
 * How deep a request may nest. The deepest legitimate message (an RTP
 * parameters' encoding or codec parameters inside a request) is 5 levels;
 * thousands of levels would reach mediasoup's recursive validation and
 * cloning, and fail there with a stack overflow instead of a clear refusal.
 */
export const maxRequestDepth = 32;

/** Whether a parsed JSON value nests arrays or objects deeper than `max` (iterative: no recursion to overflow). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}
