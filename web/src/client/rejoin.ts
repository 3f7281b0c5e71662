/**
 * Which invitation this tab was joined with, kept in the tab's sessionStorage:
 * it survives a reload and a restored crashed tab, not a closed one. A page
 * that finds its own link marked joins again by itself, as the same
 * participant (the server replaces the old peer), so a clerk who pressed F5
 * is not left outside until someone notices.
 */
const key = 'diemcau.joined';

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the page asks for a click again, as before
  }
}

export function markJoined(token: string): void {
  storage()?.setItem(key, token);
}

/** The participant left on purpose, or the link will never work again. */
export function forgetJoined(): void {
  storage()?.removeItem(key);
}

export function wasJoined(token: string): boolean {
  return !!token && storage()?.getItem(key) === token;
}
