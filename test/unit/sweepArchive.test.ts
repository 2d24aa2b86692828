// A sweep's archive is reached by the ID other commands print: a scheduled run's real workflow ID
// (with its time, `…T21:41:00Z`) and the folder name it is stored under both fetch it, checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveSweep, fetchArchive } from '../../src/sweep/archive.ts';
import { sweepFolder } from '../../src/sweep/sweepFolder.ts';
import { openStore } from '../../src/store/openStore.ts';

test("fetch takes a scheduled run's real ID as well as its folder name", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'entroscope-archive-'));
  try {
    const results = openStore(join(dir, 'results'));
    await results.put('sweeps/x/report.md', new TextEncoder().encode('# report\n'));
    const realId = 'sweep-tiny-2026-12-01T21:41:00Z';
    assert.equal(sweepFolder(realId), 'sweep-tiny-2026-12-01T21_41_00Z');
    const archive = openStore(join(dir, 'archive'));
    await archiveSweep(results, archive, realId, ['sweeps/x/report.md'], { spec: {}, versions: {}, createdAt: 'now' });
    for (const id of [realId, sweepFolder(realId)]) {
      const out = join(dir, `out-${sweepFolder(id)}-${id === realId ? 'real' : 'folder'}`);
      const m = await fetchArchive(archive, id, openStore(out));
      assert.equal(m.files.length, 1);
      assert.equal(await readFile(join(out, 'sweeps/x/report.md'), 'utf8'), '# report\n');
    }
    await assert.rejects(fetchArchive(archive, 'sweep-other', openStore(join(dir, 'none'))), /no archived sweep sweep-other/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
