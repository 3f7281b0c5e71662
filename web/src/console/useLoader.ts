import { ref } from 'vue';

/** Where a page's data stands: still coming, on screen, or failed to come (the page then says so rather than show an empty list). */
export type LoadState = 'loading' | 'ready' | 'error';

/**
 * Runs a page's fetch and keeps its LoadState. A reload leaves the state
 * 'ready', so what is on screen stays there while fresh data comes, unless
 * `showReload` asks for 'loading' again: a page whose filter changes what it
 * lists says it is loading rather than show the old filter's rows as the new.
 */
export function useLoader(fetch: () => Promise<void>, options: { showReload?: boolean } = {}) {
  const state = ref<LoadState>('loading');

  async function load(): Promise<void> {
    if (options.showReload) state.value = 'loading';
    try {
      await fetch();
      state.value = 'ready';
    } catch {
      state.value = 'error';
    }
  }

  return { state, load };
}
