// JSON Lines datasets: one JSON object per line, the text in a named field. Blank lines are
// ignored. Scanning streams the file once, validates every row, hashes the bytes and remembers the
// byte offset where each shard starts, so an extraction reads only its own rows.
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { InputError } from '../errors.ts';

export interface ShardBoundary {
  /** First row (0-based, counting non-blank lines) of the shard. */
  startRow: number;
  /** Row count. */
  rows: number;
  /** Byte offset of the shard's first line in the file. */
  byteOffset: number;
  /** 1-based line number of that line, for error messages. */
  lineNumber: number;
}

export interface JsonlScan {
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
  shards: ShardBoundary[];
}

async function* lines(path: string, start = 0): AsyncGenerator<{ text: string; offset: number }> {
  let pending: Buffer[] = [];
  let pendingStart = start;
  let offset = start;
  for await (const chunk of createReadStream(path, { start }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
      pending.push(chunk.subarray(from, i));
      yield { text: Buffer.concat(pending).toString('utf8'), offset: pendingStart };
      pending = [];
      pendingStart = offset + i + 1;
      from = i + 1;
    }
    if (from < chunk.length) pending.push(chunk.subarray(from));
    offset += chunk.length;
  }
  if (pending.length) yield { text: Buffer.concat(pending).toString('utf8'), offset: pendingStart };
}

function textOf(line: string, field: string, path: string, lineNumber: number): string {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (err) {
    throw new InputError(`${path} line ${lineNumber}: not valid JSON (${(err as Error).message})`);
  }
  if (!row || typeof row !== 'object' || Array.isArray(row)) {
    throw new InputError(`${path} line ${lineNumber}: expected a JSON object, got ${Array.isArray(row) ? 'an array' : typeof row}`);
  }
  const value = (row as Record<string, unknown>)[field];
  if (value === undefined) {
    const fields = Object.keys(row).join(', ') || 'none';
    throw new InputError(`${path} line ${lineNumber}: field "${field}" is missing (fields present: ${fields})`);
  }
  if (typeof value !== 'string') {
    throw new InputError(`${path} line ${lineNumber}: field "${field}" is ${typeof value}, expected a string`);
  }
  return value;
}

/** Validates every row and plans shards of `shardSize` rows. */
export async function scanJsonl(path: string, textField: string, shardSize: number): Promise<JsonlScan> {
  let bytes: number;
  try {
    bytes = (await stat(path)).size;
  } catch {
    throw new InputError(`dataset not found: ${path}`);
  }
  const hash = createHash('sha256');
  const shards: ShardBoundary[] = [];
  let rows = 0;
  let lineNumber = 0;
  for await (const { text, offset } of lines(path)) {
    lineNumber++;
    hash.update(text).update('\n');
    if (text.trim() === '') continue;
    textOf(text, textField, path, lineNumber);
    if (rows % shardSize === 0) shards.push({ startRow: rows, rows: 0, byteOffset: offset, lineNumber });
    shards[shards.length - 1].rows++;
    rows++;
  }
  if (rows === 0) throw new InputError(`dataset ${path} has no rows`);
  return { path, rows, bytes, sha256: hash.digest('hex'), shards };
}

/** Reads one shard's texts, starting at its byte offset. */
export async function readJsonlShard(path: string, textField: string, shard: ShardBoundary): Promise<string[]> {
  const texts: string[] = [];
  let lineNumber = shard.lineNumber - 1;
  for await (const { text } of lines(path, shard.byteOffset)) {
    lineNumber++;
    if (text.trim() === '') continue;
    texts.push(textOf(text, textField, path, lineNumber));
    if (texts.length === shard.rows) break;
  }
  if (texts.length !== shard.rows) {
    throw new InputError(`${path}: shard at row ${shard.startRow} expected ${shard.rows} rows, found ${texts.length} (file changed since planning?)`);
  }
  return texts;
}
