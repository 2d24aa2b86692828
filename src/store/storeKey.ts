// What a store key may be, and how a user-given name (a model folder, a dataset file, a sweep ID)
// becomes one segment of a key. Names come from users and from datasets: a name like `..`, `a/b`,
// `.hidden`, one with control characters or a 10 kB one must neither climb out of the store's
// root nor make keys that a local folder and S3 read differently.

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * `name` as one key segment: its extension dropped, every run of characters outside
 * [A-Za-z0-9._-] made one `-`, leading dots and dashes dropped (no `.`, `..` or hidden names),
 * at most `maxLength` characters; `x` when nothing is left.
 */
export function keySegment(name: string, maxLength = 48): string {
  const s = name
    .replace(/\.[^.]+$/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, maxLength);
  return s || 'x';
}

/** A workflow ID (a sweep's) as one key segment, kept readable: `/`, spaces, control characters and a leading dot become `_`. */
export function idSegment(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\./, '_') || '_';
}

/**
 * Throws unless `key` is a plain relative key: '/'-separated non-empty segments, none `.` or `..`,
 * no control characters or backslashes, at most MAX_KEY_BYTES. Both stores check every key.
 */
export function checkKey(key: string): string {
  const bad =
    key === '' ? 'it is empty'
    : key.startsWith('/') ? 'it starts with /'
    : key.split('/').some((p) => p === '..' || p === '.') ? 'it has a . or .. segment'
    : key.split('/').slice(0, -1).some((p) => p === '') ? 'it has an empty segment'
    : /[\u0000-\u001f\u007f\\]/.test(key) ? 'it has a control character or a backslash'
    : Buffer.byteLength(key) > MAX_KEY_BYTES ? `it is over ${MAX_KEY_BYTES} bytes`
    : undefined;
  if (bad) throw new Error(`invalid store key ${JSON.stringify(key.slice(0, 200))}: ${bad}`);
  return key;
}
