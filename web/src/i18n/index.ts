import { createI18n } from 'vue-i18n';
import en from './en';
import vi from './vi';

export type Locale = 'vi' | 'en';
export const locales: Locale[] = ['vi', 'en'];
const storageKey = 'diemcau.locale';

function savedLocale(): Locale {
  try {
    const saved = localStorage.getItem(storageKey);
    if (saved === 'vi' || saved === 'en') return saved;
  } catch {
    // storage may be blocked; Vietnamese is the default
  }
  return 'vi';
}

export const i18n = createI18n({
  legacy: false,
  locale: savedLocale(),
  fallbackLocale: 'en',
  messages: { vi, en },
});

/** Switches the language and remembers it for the next visit. */
export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  document.documentElement.lang = locale;
  try {
    localStorage.setItem(storageKey, locale);
  } catch {
    // not persisted; still switched for this page
  }
}

document.documentElement.lang = i18n.global.locale.value;
