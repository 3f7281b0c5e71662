/** "Xã Tân Phú" → "xa-tan-phu": an id suggested from a Vietnamese name. */
export function slugify(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
}

/** The letters an id may have: the server's identity rule. */
export { identityPattern as idPattern } from '@protocol';

/** Case- and accent-insensitive text for searching. */
export function fold(text: string): string {
  return slugify(text).replace(/-/g, ' ');
}
