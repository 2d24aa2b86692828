#!/usr/bin/env node
// The `entroscope` command. Runs the plain JavaScript that `npm run build` compiled into dist/ (no
// TypeScript loader at start) when that build is finished and no source changed since it began
// (bin/builtCli.js); otherwise the TypeScript sources through tsx's loader, as with no build. A
// stale dist/ never runs: after an edit, the sources do until the next `npm run build` (a note says
// so at a terminal).
// ENTROSCOPE_FROM_SOURCES=1 runs the sources even when dist/ is fresh (bench/startup.bench.ts
// measures both that way; a debugger then sees the .ts files as they are).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleNote, staleness } from './builtCli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const stale = process.env.ENTROSCOPE_FROM_SOURCES === '1' ? { kind: 'asked' } : staleness(root, join(root, 'dist'));
if (stale === undefined) {
  await import('../dist/cli/main.js');
} else {
  const note = staleNote(stale, process.stderr.isTTY);
  if (note) process.stderr.write(note);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
