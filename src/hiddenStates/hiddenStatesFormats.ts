// The formats precomputed hidden states come in (src/hiddenStates/hiddenStatesSource.ts); a file of
// its own so the spec schema can name them without importing the readers.
export const HIDDEN_STATES_FORMATS = ['safetensors', 'npy', 'arrow'] as const;
export type HiddenStatesFormat = (typeof HIDDEN_STATES_FORMATS)[number];
