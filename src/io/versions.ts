// Versions of the parts that shape results, recorded in every summary and manifest.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packagePath } from './packageRoot.ts';

const require = createRequire(import.meta.url);

/** A package's version, found by walking up from its entry point (some packages do not export package.json). */
export function packageVersion(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

export function resultVersions(): Record<string, string> {
  const own = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };
  return {
    entroscope: own.version,
    'onnxruntime-node': packageVersion('onnxruntime-node'),
    tokenizers: packageVersion('tokenizers'),
    'apache-arrow': packageVersion('apache-arrow'),
    node: process.version,
  };
}
