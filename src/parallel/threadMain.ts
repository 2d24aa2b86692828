// Entry point of a pool thread: runs the requested task, posts progress and the result back.
import { parentPort } from 'node:worker_threads';
import { holdCoreAsync, onGrantedCore } from '../linalg/coreBudget.ts';
import { NOT_COUNTED_BUSY, tasks, type ThreadReply, type ThreadRequest } from './tasks.ts';
import { resultTransferables } from './transferables.ts';

const port = parentPort!;
port.on('message', async (req: ThreadRequest) => {
  const reply = (msg: ThreadReply, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
  try {
    const run = tasks[req.task] as (input: unknown, onProgress: (done: number) => void, isCancelled: () => boolean) => Promise<unknown>;
    const isCancelled = () => Atomics.load(req.cancelFlag, 0) === 1;
    // Counted busy while it runs, so metric kernels elsewhere in the process only take idle cores
    // (unless its caller already took the core for it).
    const call = () => run(req.input, (done) => reply({ id: req.id, kind: 'progress', done }), isCancelled);
    const output = await (NOT_COUNTED_BUSY.has(req.task) ? onGrantedCore(call) : holdCoreAsync(call));
    // The result's partial Grams move to the caller rather than being copied (transferables.ts).
    reply({ id: req.id, kind: 'ok', output }, resultTransferables(output));
  } catch (err) {
    const e = err as Error;
    reply({ id: req.id, kind: 'error', errorName: e.name, message: e.message, stack: e.stack });
  }
});
