import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api, errorStatus, type Operator } from './api';

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
        operator.value = me.role === 'operator' ? me : null;
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

  return { operator, ensure, signIn, signOut, forget };
});
