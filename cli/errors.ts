// Turns any failure — a Temporal workflow failure with its chain of causes, a validation error —
// into one message a user can act on.
export function userMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let deepest = e?.message ?? String(err);
  // WorkflowFailedError → ActivityFailure → ApplicationFailure: the innermost message is the useful one.
  while (e && e.cause) {
    e = e.cause as { message?: string; cause?: unknown };
    if (e?.message) deepest = e.message;
  }
  return deepest;
}
