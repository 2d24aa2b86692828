// The commit of the entroscope source that computed a result, as lm-evaluation-harness records its own
// (`git_hash` in results.json). ENTROSCOPE_GIT_HASH says it where the source is not a git checkout
// (a worker image built without .git); otherwise `git rev-parse HEAD` in the source folder; else null.
import { execFileSync } from 'node:child_process';
import { packageRoot } from './packageRoot.ts';

let cached: string | null | undefined;

export function gitHash(): string | null {
  if (cached !== undefined) return cached;
  const fromEnv = process.env.ENTROSCOPE_GIT_HASH?.trim();
  if (fromEnv) return (cached = fromEnv);
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: packageRoot(),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    const hash = out.toString('utf8').trim();
    cached = /^[0-9a-f]{40}$/.test(hash) ? hash : null;
  } catch {
    cached = null;
  }
  return cached;
}
