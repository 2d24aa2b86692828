// Every activity a worker registers. Workflows import this module as *types* only.
export * from './evaluation.ts';
export * from './untrained.ts';
export * from './sweep.ts';
