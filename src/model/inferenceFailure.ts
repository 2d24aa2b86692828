// An onnxruntime failure during `session.run` is a property of the model and its inputs: a shape
// the graph cannot broadcast, an index past a table, a wrong input type. Running it again fails
// the same way, so it must not be retried (Temporal would back off 1 s → 60 s for every attempt).
// Only running out of memory can pass when the machine is less loaded: that stays retryable.
import { InputError } from '../errors.ts';

const TRANSIENT = /failed to allocate|bad[ _]alloc|out of memory|cannot allocate/i;

/** Whether a failure of `session.run` may pass on another attempt (memory only). */
export function isTransientInferenceFailure(message: string): boolean {
  return TRANSIENT.test(message);
}

/**
 * The error to throw for a failed `session.run`: `what` names the model file, the sample and the
 * input shapes. An InputError (non-retryable) unless it was memory.
 */
export function inferenceFailure(what: string, err: unknown): Error {
  const message = `${what}: ${(err as Error)?.message ?? String(err)}`;
  if (err instanceof InputError) return new InputError(message);
  return isTransientInferenceFailure(message) ? new Error(message) : new InputError(message);
}
