// Long activities heartbeat every second while they work, so that a worker that dies is noticed
// after the heartbeat timeout (not the start-to-close timeout of minutes or hours) and the task
// moves to another worker; the heartbeats also carry cancellation back.
import { Context } from '@temporalio/activity';

export async function withHeartbeat<T>(fn: () => Promise<T>, details?: () => unknown): Promise<T> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(details?.()), 1000);
  try {
    return await fn();
  } finally {
    clearInterval(beat);
  }
}
