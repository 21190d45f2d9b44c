/**
 * Errors the user can act on. Only entry points (executors, CLIs) decide how an
 * error is shown and what exit code follows; the library only throws.
 */
export class PydepotError extends Error {
  /** What to do about it, shown on its own line. */
  readonly hint?: string;
  /** The file or folder the error is about, when there is one. */
  readonly path?: string;

  constructor(message: string, options: { hint?: string; path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PydepotError';
    this.hint = options.hint;
    this.path = options.path;
  }
}

/** A child process failed; carries the tail of what it printed. */
export class ProcessError extends PydepotError {
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly output: string,
    options: { hint?: string; path?: string } = {},
  ) {
    super(message, options);
    this.name = 'ProcessError';
  }
}

export function isPydepotError(error: unknown): error is PydepotError {
  return error instanceof PydepotError;
}

/** Values that must never be printed: credentials expanded into index URLs. */
const secrets = new Set<string>();

/**
 * Register a value (a password or token taken from the environment) so that
 * maskCredentials hides it wherever it appears, not only inside a URL.
 */
export function registerSecret(value: string): void {
  // Very short values would mask ordinary text; URL masking still covers them.
  if (value.length >= 4) secrets.add(value);
}

/**
 * Hide the password (or token) of every URL with credentials in `text`:
 * `https://ci:s3cret@pypi.studio/simple` → `https://ci:****@pypi.studio/simple`.
 * Applied to everything pydepot prints about a failure, since index URLs
 * with credentials reach command lines and installer output.
 */
export function maskCredentials(text: string): string {
  for (const secret of secrets) text = text.split(secret).join('****');
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]+)(:[^\s/@]*)?@/gi, (_m, scheme: string, user: string, password?: string) =>
    password ? `${scheme}${user}:****@` : `${scheme}****@`,
  );
}

/** One readable block: message, process output (if any), hint; credentials in URLs masked. */
export function formatError(error: unknown): string {
  return maskCredentials(formatErrorText(error));
}

function formatErrorText(error: unknown): string {
  if (error instanceof ProcessError) {
    const out = error.output.trim();
    return [error.message, out && indent(out), error.hint && `hint: ${error.hint}`].filter(Boolean).join('\n');
  }
  if (error instanceof PydepotError) {
    return [error.message, error.hint && `hint: ${error.hint}`].filter(Boolean).join('\n');
  }
  if (error instanceof Error) {
    return `internal error: ${error.stack ?? error.message}`;
  }
  return `internal error: ${String(error)}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  | ${line}`)
    .join('\n');
}
