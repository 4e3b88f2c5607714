/** An error the CLI reports as one line naming the problem (exit 2 for usage, 1 otherwise). */
export class CliError extends Error {
  readonly code = 'CLI_ERROR';
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError(`${message}\nRun 'postern help' for usage.`, 2);
}
