// Errors a user must fix (bad model, bad data, bad spec): retrying cannot help, so activities turn
// them into non-retryable failures and the CLI prints the message and exits non-zero.
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
