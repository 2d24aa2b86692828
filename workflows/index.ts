// Every workflow a worker registers (the bundler's entry point).
export * from './evaluation.ts';
export * from './sweep.ts';
