// `entroscope sweep | status | cancel | resume | schedule`: sweeps over model families on Temporal.
import type { Command } from 'commander';
import { defaults } from '../defaults.ts';
import { applyExecutionProvider, executionProviderOption } from '../executionProviderOption.ts';

interface Conn {
  temporal?: string;
  namespace: string;
  stateDir: string;
}

function connection(cmd: Command): Command {
  return cmd
    .option('--temporal <host:port>', 'Temporal server (default $TEMPORAL_ADDRESS, else an embedded dev server)')
    .option('--namespace <ns>', 'Temporal namespace', defaults.namespace())
    .option('--state-dir <dir>', 'embedded dev server database', defaults.stateDir());
}

const actions = () => import('../actions/sweep.ts');

export function registerSweep(program: Command): void {
  connection(
    executionProviderOption(program.command('sweep <spec>'), true)
      .description('evaluate every model × dataset of a YAML/JSON sweep spec, then fit and report')
      .option('--id <workflowId>', 'sweep ID (default: derived from the spec, so re-running resumes)')
      .option('--detach', 'start and return (needs --temporal and running workers)')
      .option('--json', 'print the result as JSON'),
  ).action(async (file: string, opts: Conn & { id?: string; detach?: boolean; json?: boolean; executionProvider?: string }) => {
    applyExecutionProvider(opts, true);
    const { sweep, printSweep } = await actions();
    const r = await sweep(file, opts);
    if (opts.json || !('evaluations' in r)) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else printSweep(r);
    if ('evaluations' in r && r.evaluations.some((e) => e.status === 'failed')) process.exitCode = 2;
  });

  connection(
    program
      .command('status <id>')
      .description('progress of a sweep or evaluation (phase, shards done/total)')
      .option('--watch', 'show a live progress bar until it finishes, then the final status'),
  ).action(
    async (id: string, opts: Conn & { watch?: boolean }) => {
      const { status } = await actions();
      process.stdout.write(JSON.stringify(await status(id, opts), null, 2) + '\n');
    },
  );

  connection(program.command('cancel <id>').description('cancel a running sweep or evaluation (finished shards stay stored)')).action(
    async (id: string, opts: Conn) => (await actions()).cancel(id, opts),
  );

  connection(
    executionProviderOption(program.command('resume <id>').description('continue a sweep or evaluation: attach to a running one (starting the embedded worker it needs) or start a failed or cancelled one again; finished shards are reused').option('--json'), true),
  ).action(async (id: string, opts: Conn & { json?: boolean; executionProvider?: string }) => {
    applyExecutionProvider(opts, true);
    const r = await (await actions()).resume(id, opts);
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  });

  program
    .command('fetch <sweepId>')
    .description('bring an archived sweep back from its archive, every file checked against the archive manifest')
    .requiredOption('--archive <uri>', 'the archive the sweep spec named (file://, a folder or s3://)')
    .option('-o, --out <dir>', 'where to put it', '.')
    .action(async (sweepId: string, opts: { archive: string; out: string }) => {
      const { openStore } = await import('../../src/store/openStore.ts');
      const { fetchArchive } = await import('../../src/sweep/archive.ts');
      const { resolve } = await import('node:path');
      const target = openStore(resolve(opts.out));
      const m = await fetchArchive(openStore(opts.archive), sweepId, target);
      process.stdout.write(`fetched ${m.files.length} files of ${sweepId} into ${target.uri}\n`);
    });

  const schedule = program.command('schedule').description('recurring sweeps with Temporal Schedules');
  connection(
    schedule
      .command('create <spec>')
      .requiredOption('--cron <expr>', 'cron expression, e.g. "0 3 * * 1"')
      .option('--id <scheduleId>', 'schedule ID (default schedule-<sweep name>)'),
  ).action(async (file: string, opts: Conn & { cron: string; id?: string }) => {
    process.stdout.write(`${await (await actions()).scheduleCreate(file, opts)}\n`);
  });
  connection(schedule.command('list')).action(async (opts: Conn) => {
    process.stdout.write(JSON.stringify(await (await actions()).scheduleList(opts), null, 2) + '\n');
  });
  for (const action of ['pause', 'unpause', 'delete'] as const) {
    connection(schedule.command(`${action} <scheduleId>`)).action(async (id: string, opts: Conn) =>
      (await actions()).scheduleAction(id, action, opts),
    );
  }
}
