// A sweep's folder name in the store and in its archive: the sweep ID with anything but letters,
// digits, `.`, `_` and `-` replaced by `_` (a scheduled run's ID carries its time,
// `sweep-x-2026-12-01T21:41:00Z`, and `:` is not safe in every store). Every command that takes a
// sweep ID passes it through here, so the ID a command prints is the one the others accept.
export function sweepFolder(sweepId: string): string {
  return sweepId.replace(/[^A-Za-z0-9._-]+/g, '_');
}
