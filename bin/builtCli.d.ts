// Types of builtCli.js.
export const SOURCE_DIRS: string[];
export const BUILD_FILES: string[];
export const ASSET_EXTENSIONS: string[];
export const STAMP: string;
export type Staleness = { kind: 'missing' } | { kind: 'older'; path: string };
export function staleness(root: string, outDir: string): Staleness | undefined;
export function staleNote(stale: Staleness | { kind: 'asked' } | undefined, isTTY: boolean | undefined): string | undefined;
