// The metric layer (DESIGN §1): pure functions from hidden states to entropies.
export * from './normalize.ts';
export * from './spectrum.ts';
export * from './entropy.ts';
export * from './erank.ts';
export * from './renyi.ts';
export * from './nuclearNorm.ts';
export * from './alphaReq.ts';
export * from './sampleMetrics.ts';
export * from './prng.ts';
export * from './datasetMetrics.ts';
export * from './pooled.ts';
export * from './meanPooled.ts';
export * from './diffErank.ts';
