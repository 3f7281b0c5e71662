import { useI18n } from 'vue-i18n';
import type { ErrorCode } from '@protocol';
import { RequestError } from '@/client/SignalingClient';
import { ApiError } from './api';

/**
 * The code of a failed request, over HTTP or signaling: what the page says,
 * never the server's own (English) message. 'network': the server was not
 * reached; anything else unknown reads as 'internal'.
 */
export function errorCode(error: unknown): ErrorCode | 'network' {
  return error instanceof ApiError || error instanceof RequestError ? error.code : 'internal';
}

/**
 * The i18n key that says why a request was refused, chosen by its error
 * code: the page's own message for that code (`scope.code`) when it has
 * one — a conflict means "name taken" when creating, "last admin" when
 * changing — else the common one (`errors.code`).
 */
export function errorKey(error: unknown, scope: string, has: (key: string) => boolean): string {
  const code = errorCode(error);
  if (scope && has(`${scope}.${code}`)) return `${scope}.${code}`;
  return has(`errors.${code}`) ? `errors.${code}` : 'errors.internal';
}

/** For a component: the words for a failed request, the page's own for its `scope` if it has them. */
export function useErrorText(): (error: unknown, scope?: string) => string {
  const i18n = useI18n();
  return (error, scope = '') => i18n.t(errorKey(error, scope, (key) => i18n.te(key)));
}
