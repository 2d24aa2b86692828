// Messages for a spec that fails its zod schema: one line per problem, each led by the field's path
// as a user writes it (`models[1].params`), and for an unknown key the nearest key the schema does
// know at that place (`models[1].parms: unknown key (did you mean params?)`), as git and commander
// suggest commands.
import type { z } from 'zod';

type Path = ReadonlyArray<PropertyKey>;

/** `models[1].params`; `(top level)` for the spec itself. */
export function formatPath(path: Path): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)';
}

/** One line per issue (and per unknown key), each starting with its path. */
export function specIssueLines(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [`${formatPath(issue.path)}: ${issue.message}`];
    const known = objectKeysAt(schema, issue.path);
    return issue.keys.map((key) => {
      const near = nearest(key, known);
      return `${formatPath([...issue.path, key])}: unknown key${near ? ` (did you mean ${near}?)` : known.length ? ` (known here: ${known.join(', ')})` : ''}`;
    });
  });
}

/** The keys of the object schema found by following `path` (array indices, optional, default …). */
export function objectKeysAt(schema: z.ZodType, path: Path): string[] {
  let s: unknown = schema;
  for (const step of [...path, undefined]) {
    // Wrappers (optional, default, nullable, readonly, catch, pipe) hold the schema that matters.
    for (let def = defOf(s); def && !['object', 'array'].includes(def.type); def = defOf(s)) {
      const inner = def.innerType ?? def.in;
      if (!inner) return [];
      s = inner;
    }
    const def = defOf(s);
    if (step === undefined) return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    if (def?.type === 'array' && typeof step === 'number') s = def.element;
    else if (def?.type === 'object' && typeof step === 'string' && def.shape) s = def.shape[step];
    else return [];
  }
  return [];
}

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  innerType?: unknown;
  in?: unknown;
}

function defOf(s: unknown): Def | undefined {
  return (s as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/**
 * The known key closest to `key`: the same but for case and `_`/`-` (`shard_size` → shardSize), else
 * within an edit distance of a third of its length (at least 1, transpositions count once).
 */
export function nearest(key: string, known: readonly string[]): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => fold(k) === fold(key));
  if (same) return same;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(fold(key), fold(k));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
