// Temporal's Rust core logs INFO lines to stderr by default; a CLI shows only errors (ENTROSCOPE_LOG_LEVEL=WARN|INFO for more).
import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;
export function quietTemporalRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger((process.env.ENTROSCOPE_LOG_LEVEL as 'ERROR') ?? 'ERROR') });
}
