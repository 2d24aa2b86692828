// Errors a user must fix (src/errors.ts InputError) cannot be cured by a retry: an activity turns
// them into non-retryable failures that keep the message, so the workflow fails at once with it.
import { ApplicationFailure } from '@temporalio/activity';
import { InputError } from '../src/errors.ts';

/** Runs `fn`, turning user errors into non-retryable failures with the message intact. */
export async function userErrorsFinal<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InputError) throw ApplicationFailure.nonRetryable(err.message, 'InputError');
    throw err;
  }
}
