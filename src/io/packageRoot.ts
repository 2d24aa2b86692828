// The package's root folder (where package.json, data/, infra/ and workflows/ live), the same whether
// this module runs as TypeScript source (src/io/packageRoot.ts, through tsx) or as the JavaScript
// `npm run build` compiled into dist/ (dist/src/io/packageRoot.js): the nearest folder above this
// file that holds a package.json. dist/ has none of its own, so both find the checkout's root.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A path inside the package root. */
export const packagePath = (...parts: string[]): string => join(packageRoot(), ...parts);
