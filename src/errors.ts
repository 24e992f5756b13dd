/**
 * Errors ops reports to the user. Each carries the exit code of DESIGN §4:
 * 1 an operation failed, 2 bad usage/config/input, 130 interrupted.
 */
export type ExitCode = 0 | 1 | 2 | 130;

export class OpsError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  /** The file:line:col (or other place) the error is about, when there is one: the `where` of --json's error event. */
  where: string | undefined;
  constructor(message: string, exitCode: ExitCode, hint?: string) {
    super(message);
    this.name = 'OpsError';
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Bad usage, configuration or input (exit 2). */
export class UsageError extends OpsError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
    this.name = 'UsageError';
  }
}

/** An operation failed: a host, a state, a refused host, a held lock, a declined prompt (exit 1). */
export class OperationError extends OpsError {
  constructor(message: string, hint?: string) {
    super(message, 1, hint);
    this.name = 'OperationError';
  }
}

export function isOpsError(e: unknown): e is OpsError {
  return e instanceof OpsError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
