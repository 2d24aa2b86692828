// A process that shares no files with the others: `unshare -m` gives it its own mount namespace
// (we are root), where a fresh tmpfs is mounted at `root` — the same path in every namespace, so
// each process sees a working folder and an ENTROSCOPE_CACHE at identical paths with private
// contents, as on separate machines — and empty tmpfs mounts hide `hide` (the test's own files, the
// models the test uploads). PIDs are shared, so the test can SIGKILL it and Temporal names it
// `<pid>@<hostname>` as for any worker.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';

export interface IsolatedProcess {
  child: ChildProcess;
  /** Temporal's default identity of a worker in this process. */
  identity: string;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves when the output contains `text` (rejects when the process exits first or after `ms`). */
  waitFor(text: string, ms?: number): Promise<void>;
}

const SCRIPT = `set -e
root="$1"; shift
hide="$1"; shift
mount -t tmpfs -o size=3g tmpfs "$root"
for d in $hide; do mount -t tmpfs -o size=1m tmpfs "$d"; done
mkdir -p "$root/cache" "$root/work"
cd "$root/work"
export ENTROSCOPE_CACHE="$root/cache"
exec "$@"`;

export function spawnIsolated(opts: { root: string; hide: string[]; argv: string[]; env?: NodeJS.ProcessEnv }): IsolatedProcess {
  mkdirSync(opts.root, { recursive: true });
  for (const h of opts.hide) mkdirSync(h, { recursive: true });
  if (opts.hide.some((h) => /\s/.test(h))) throw new Error('hidden paths must not contain spaces');
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sh', opts.root, opts.hide.join(' '), ...opts.argv], {
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => (resolve(code), waiters.splice(0).forEach((w) => w()))));
  let closed = false;
  void exited.then(() => (closed = true));
  return {
    child,
    identity: `${child.pid}@${hostname()}`,
    output: () => out,
    exited,
    waitFor(text, ms = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}"; output:\n${out}`)), ms);
        const check = () => {
          if (out.includes(text)) return clearTimeout(timer), resolve();
          if (closed) return clearTimeout(timer), reject(new Error(`process exited before "${text}"; output:\n${out}`));
          waiters.push(check);
        };
        check();
      });
    },
  };
}
