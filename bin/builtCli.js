// Whether the JavaScript `npm run build` (infra/build.mjs) compiled into dist/ may run: it may when
// its build stamp is there and no file it was built from changed since the build began. Plain
// JavaScript with no dependencies, as it runs before any loader: one stat per source file and
// folder (a folder's mtime moves when a file in it is added, removed or renamed), a few ms.

/** The folders dist/ is compiled from (tsconfig.build.json's `include`); their assets are copied. */
export const SOURCE_DIRS = ['src', 'workflows', 'activities', 'workers', 'cli'];
/** Files that shape the build besides the sources. */
export const BUILD_FILES = ['tsconfig.json', 'tsconfig.build.json', 'infra/build.mjs', 'bin/builtCli.js'];
/** Files the code loads by path beside itself (worker threads, WebAssembly, the ONNX schema): copied as they are. */
export const ASSET_EXTENSIONS = ['.mjs', '.wasm', '.proto'];
/** Written last by a successful build; its mtime is the time the build began. */
export const STAMP = '.built';

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Why `outDir` (compiled from the sources under `root`) must not run, or undefined when it may:
 * `{ kind: 'missing' }` (no finished build) or `{ kind: 'older', path }` (a source newer than it).
 */
export function staleness(root, outDir) {
  let built;
  try {
    built = statSync(join(outDir, STAMP)).mtimeMs;
  } catch {
    return { kind: 'missing' };
  }
  const newer = (path) => {
    try {
      return statSync(path).mtimeMs > built;
    } catch {
      return true; // a source named here is gone: rebuild
    }
  };
  for (const file of BUILD_FILES) if (newer(join(root, file))) return { kind: 'older', path: file };
  for (const dir of SOURCE_DIRS) {
    if (newer(join(root, dir))) return { kind: 'older', path: dir };
    for (const entry of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (newer(join(root, dir, entry))) return { kind: 'older', path: join(dir, entry) };
    }
  }
  return undefined;
}

/**
 * What bin/entroscope.js tells a person at a terminal (`isTTY`) when it runs the sources because
 * the build is stale; nothing otherwise (no build at all is the ordinary state of a checkout before
 * `npm run build`), and nothing to a pipe, so scripts that read stderr see only the command's own.
 */
export function staleNote(stale, isTTY) {
  if (!isTTY || stale?.kind !== 'older') return undefined;
  return `entroscope: dist/ is older than ${stale.path}; running the TypeScript sources through tsx (\`npm run build\` brings back the faster start)\n`;
}
