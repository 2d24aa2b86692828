// Boots a pool thread: Node 20 worker threads do not run `--import` loaders for their entry file,
// so register tsx here, then load the TypeScript entry point.
import { register } from 'tsx/esm/api';

register();
await import('./threadMain.ts');
