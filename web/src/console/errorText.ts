import { ApiError } from './api';

/**
 * The i18n key that says why a request was refused, chosen by its error
 * code: the page's own message for that code (`scope.code`) when it has
 * one — a conflict means "name taken" when creating, "last admin" when
 * changing — else the common one (`errors.code`).
 */
export function errorKey(error: unknown, scope: string, has: (key: string) => boolean): string {
  const code = error instanceof ApiError ? error.code : 'internal';
  if (has(`${scope}.${code}`)) return `${scope}.${code}`;
  return has(`errors.${code}`) ? `errors.${code}` : 'errors.internal';
}
