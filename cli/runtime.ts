// The Temporal runtime of a CLI or worker process. Core (Rust) logs go to the console — stdout —
// unless forwarded: here they are forwarded to the SDK logger, which writes to stderr, so stdout
// carries only a command's own output (`--json`: exactly one JSON document). A CLI shows only
// errors by default (ENTROSCOPE_LOG_LEVEL=WARN|INFO|DEBUG for more, core and SDK alike).
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/common';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** ENTROSCOPE_LOG_LEVEL, upper-cased; ERROR when absent or not a level. */
export function logLevel(): LogLevel {
  const v = process.env.ENTROSCOPE_LOG_LEVEL?.toUpperCase() as LogLevel | undefined;
  return v && LEVELS.includes(v) ? v : 'ERROR';
}

let installed = false;
export function quietTemporalRuntime(): void {
  if (installed) return;
  installed = true;
  const level = logLevel();
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level, other: level }), forward: {} } },
  });
}
