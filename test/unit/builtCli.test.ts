// bin/entroscope.js chooses what runs: the compiled dist/ only while its build stamp is newer than
// every source (bin/builtCli.js), else the TypeScript sources through tsx — never a stale build.
// Each case lays out a small package in a temp folder (the real bin/ files, a cli/main.ts and a
// dist/cli/main.js that say which one ran, the checkout's node_modules) and runs the real command.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_FILES, SOURCE_DIRS, STAMP, staleNote, staleness } from '../../bin/builtCli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let pkg: string;
const HOUR_AGO = new Date(Date.now() - 3600_000);
const NOW = new Date();

function write(path: string, text: string, time = HOUR_AGO): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  utimesSync(path, time, time);
}

/** The sources and build files, all an hour old, and a dist/ stamped now. */
function layOut(): void {
  rmSync(join(pkg, 'dist'), { recursive: true, force: true });
  for (const dir of SOURCE_DIRS) mkdirSync(join(pkg, dir), { recursive: true });
  write(join(pkg, 'cli', 'main.ts'), "const from: string = 'sources';\nconsole.log(from);\n");
  write(join(pkg, 'src', 'io', 'x.ts'), 'export const x = 1;\n');
  for (const f of BUILD_FILES) if (!f.startsWith('bin/')) write(join(pkg, f), '{}\n');
  for (const f of ['bin/entroscope.js', 'bin/builtCli.js']) {
    copyFileSync(join(root, f), join(pkg, f));
    utimesSync(join(pkg, f), HOUR_AGO, HOUR_AGO);
  }
  for (const dir of [...SOURCE_DIRS, 'src/io']) utimesSync(join(pkg, dir), HOUR_AGO, HOUR_AGO);
  write(join(pkg, 'dist', 'cli', 'main.js'), "console.log('dist');\n", NOW);
  write(join(pkg, 'dist', STAMP), '{}\n', NOW);
}

function runBin(env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(pkg, 'bin', 'entroscope.js')], { env: { ...process.env, NODE_OPTIONS: '', ENTROSCOPE_FROM_SOURCES: '', ...env } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
    );
  });
}

before(() => {
  pkg = mkdtempSync(join(tmpdir(), 'entroscope-bin-'));
  mkdirSync(join(pkg, 'bin'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'entroscope', type: 'module' }));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
});
after(() => rmSync(pkg, { recursive: true, force: true }));

describe('bin/entroscope.js runs dist/ only when it is not older than the sources', () => {
  test('a build stamped after every source runs the compiled JavaScript, with no note', async () => {
    layOut();
    assert.equal(staleness(pkg, join(pkg, 'dist')), undefined);
    assert.deepEqual(await runBin(), { stdout: 'dist\n', stderr: '' });
  });

  test('a source edited after the build runs the sources through tsx; a terminal is told which file is newer, a pipe nothing', async () => {
    layOut();
    utimesSync(join(pkg, 'src', 'io', 'x.ts'), NOW, new Date(Date.now() + 5000));
    const stale = staleness(pkg, join(pkg, 'dist'));
    assert.deepEqual(stale, { kind: 'older', path: join('src', 'io', 'x.ts') });
    assert.deepEqual(await runBin(), { stdout: 'sources\n', stderr: '' });
    assert.match(staleNote(stale, true) ?? '', /^entroscope: dist\/ is older than src\/io\/x\.ts; running the TypeScript sources through tsx/);
    assert.equal(staleNote(stale, false), undefined);
    assert.equal(staleNote({ kind: 'missing' }, true), undefined, 'no build at all is no news');
  });

  test('a source removed after the build (its folder changed) runs the sources', async () => {
    layOut();
    unlinkSync(join(pkg, 'src', 'io', 'x.ts'));
    utimesSync(join(pkg, 'src', 'io'), NOW, new Date(Date.now() + 5000));
    assert.deepEqual(staleness(pkg, join(pkg, 'dist')), { kind: 'older', path: join('src', 'io') });
    assert.equal((await runBin()).stdout, 'sources\n');
  });

  test('a changed build configuration runs the sources', async () => {
    layOut();
    utimesSync(join(pkg, 'tsconfig.build.json'), NOW, new Date(Date.now() + 5000));
    assert.deepEqual(staleness(pkg, join(pkg, 'dist')), { kind: 'older', path: 'tsconfig.build.json' });
    assert.equal((await runBin()).stdout, 'sources\n');
  });

  test('ENTROSCOPE_FROM_SOURCES=1 runs the sources through tsx although the build is fresh, with no note', async () => {
    layOut();
    assert.equal(staleness(pkg, join(pkg, 'dist')), undefined);
    assert.deepEqual(await runBin({ ENTROSCOPE_FROM_SOURCES: '1' }), { stdout: 'sources\n', stderr: '' });
  });

  test('no finished build (no stamp: none, or one that failed half way) runs the sources silently', async () => {
    layOut();
    unlinkSync(join(pkg, 'dist', STAMP));
    assert.deepEqual(staleness(pkg, join(pkg, 'dist')), { kind: 'missing' });
    assert.deepEqual(await runBin(), { stdout: 'sources\n', stderr: '' });
  });
});
