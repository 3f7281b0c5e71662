/** The store's id of a point's readiness in a session (identities hold no ':'). */
export function readinessKey(sessionId: string, pointId: string): string {
  return `${sessionId}:${pointId}`;
}
