// How an error's message shows what it did not make itself: a cause, a client's value.

/** A cause's own message, or the cause itself as text when it is not an Error. */
export function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** A value as JSON, cut to a preview when long (`whole` false), for messages that name a client's value. Never throws. */
export function valuePreview(value: unknown): { text: string; whole: boolean } {
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    // Nesting too deep to stringify: say so rather than fail while reporting another failure.
    return { text: '(a value too deeply nested to show)', whole: false };
  }
  if (json.length <= MAX_PREVIEW_LENGTH) return { text: json, whole: true };
  return { text: `${json.slice(0, MAX_PREVIEW_LENGTH)}… (${json.length} characters)`, whole: false };
}

const MAX_PREVIEW_LENGTH = 80;
