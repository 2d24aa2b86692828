// A sweep's folder name in the store and in its archive: the sweep ID with anything but letters,
// digits, `.`, `_` and `-` replaced by `_` (a scheduled run's ID carries its time,
// `sweep-x-2026-12-01T21:41:00Z`, and `:` is not safe in every store). Every command that takes a
// sweep ID passes it through here (storeKey.ts's idSegment, the one rule for IDs in keys), so the ID a command prints is the one the others accept.
import { idSegment } from '../store/storeKey.ts';

export function sweepFolder(sweepId: string): string {
  return idSegment(sweepId);
}
