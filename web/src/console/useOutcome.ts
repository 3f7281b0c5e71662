import { ref } from 'vue';
import { useErrorText } from './errorText';

/**
 * What a page tells the operator after an action: what was done (`notice`)
 * or why it was refused (`error`), in the words of the page's error `scope`.
 * One at a time: each new action clears the last one's answer.
 */
export function useOutcome(scope: string) {
  const errorText = useErrorText();
  const error = ref('');
  const notice = ref('');

  /** Runs one action and says how it went; true when it went through. */
  async function attempt(run: () => Promise<unknown>, done?: string): Promise<boolean> {
    error.value = '';
    notice.value = '';
    try {
      await run();
      if (done) notice.value = done;
      return true;
    } catch (e) {
      error.value = errorText(e, scope);
      return false;
    }
  }

  return { error, notice, attempt };
}
