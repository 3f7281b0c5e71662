import { parse } from 'csv-parse/sync';

/** Rows of a CSV file as a spreadsheet reads it (RFC 4180, an Excel BOM allowed). */
export function csvRows(text: string): string[][] {
  return parse(text, { bom: true });
}

/** The rows of a CSV file with a header line, as objects keyed by column name. */
export function csvRecords(text: string): Record<string, string>[] {
  return parse<Record<string, string>>(text, { bom: true, columns: true });
}
