// Errors a user must fix (bad model, bad data, bad spec): retrying cannot help, so activities turn
// them into non-retryable failures and the CLI prints the message and exits non-zero.
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** A task stopped because its caller cancelled it (an activity's cancellation, src/parallel/threadPool.ts). */
export class TaskCancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'TaskCancelledError';
  }
}
