import { defineStore } from 'pinia';
import { ref } from 'vue';
import { allows, type Action } from '@protocol';
import { api, errorStatus, type Operator } from './api';

/** An account's sign-in (not an invitation link opened in this browser): any account role, or an older operator sign-in. */
const isAccount = (me: Operator) => me.accountRole !== undefined || me.role === 'operator';

/** The signed-in operator (GET /api/auth/me), asked once per page load and after sign-in. */
export const useAuthStore = defineStore('console-auth', () => {
  const operator = ref<Operator | null>(null);
  let checking: Promise<Operator | null> | null = null;

  /** The operator, or null when not signed in (401/403). Other failures are thrown. */
  function ensure(): Promise<Operator | null> {
    if (operator.value) return Promise.resolve(operator.value);
    checking ??= api
      .me()
      .then((me) => {
        operator.value = isAccount(me) ? me : null;
        return operator.value;
      })
      .catch((error: unknown) => {
        const status = errorStatus(error);
        if (status === 401 || status === 403) return null;
        throw error;
      })
      .finally(() => (checking = null));
    return checking;
  }

  /**
   * Whether the signed-in account may do `action`: the same table and guard
   * the server checks (protocol/roles.ts), so a button shown is a button allowed.
   */
  function may(action: Action): boolean {
    const me = operator.value;
    return !!me && allows({ role: me.role, ...(me.accountRole ? { accountRole: me.accountRole } : {}) }, action);
  }

  /** Where a session opens: its editor for those who schedule, else its control room (read-only for an observer). */
  function sessionPage(sid: string): string {
    return may('session.create') ? `/console/sessions/${sid}` : `/console/sessions/${sid}/live`;
  }

  async function signIn(username: string, password: string): Promise<void> {
    await api.signIn(username, password);
    operator.value = null;
    await ensure();
  }

  async function signOut(): Promise<void> {
    try {
      await api.signOut();
    } finally {
      operator.value = null;
    }
  }

  /** The cookie expired under us (a 401 from any console request). */
  function forget(): void {
    operator.value = null;
  }

  return { operator, ensure, may, sessionPage, signIn, signOut, forget };
});
