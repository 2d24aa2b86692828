// What several benchmarks share: order statistics, a free port pair for their own Temporal dev
// server, and event times from a workflow history.
import { createServer } from 'node:net';
import type { Client } from '@temporalio/client';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port whose UI port (+1000) is free too, from 17302 up (the dev server takes both). */
export async function freePort(): Promise<number> {
  for (let p = 17302; p < 17400; p++) if ((await portFree(p)) && (await portFree(p + 1000))) return p;
  throw new Error('no free port pair in 17302…17399');
}

export type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

/** An event's time in milliseconds since the epoch. */
export const eventMs = (e: HistoryEvent): number => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
