import type { execa as Execa } from 'execa';
import { ProcessError } from '../errors';

/**
 * execa, loaded on first use: it is ESM-only and costs ~0.25 s to load, which
 * the Nx runtime-input script (python-identity.js), run on every hash, never needs.
 */
const execa = new Proxy((() => undefined) as unknown as typeof Execa, {
  apply: (_target, thisArg, args) => Reflect.apply((require('execa') as typeof import('execa')).execa, thisArg, args),
});

export interface RunOptions {
  cwd?: string;
  /** The complete environment of the child; nothing is inherited beyond it. */
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Message prefix used when the command fails. */
  failure?: string;
  hint?: string;
  /** Stream the child's output to ours as it runs (long installs). */
  stream?: boolean;
  /** Lines of output kept in a failure message. */
  tailLines?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * The only place that starts processes. Keeps execa (ESM-only) behind one
 * function, so unit tests mock exactly this boundary.
 */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const env = options.env ?? process.env;
  const child = execa(file, args, {
    cwd: options.cwd,
    env,
    extendEnv: options.env === undefined,
    input: options.input,
    reject: false,
    all: true,
    stripFinalNewline: true,
    buffer: true,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
  });
  if (options.stream) {
    child.stdout?.pipe(process.stdout, { end: false });
    child.stderr?.pipe(process.stderr, { end: false });
  }
  const result = await child;
  if (result.failed) {
    const command = [file, ...args].join(' ');
    const all = String(result.all ?? `${result.stdout}\n${result.stderr}`);
    const tail = tailOf(all, options.tailLines ?? 40);
    const why =
      result.exitCode !== undefined
        ? `exit code ${result.exitCode}`
        : result.signal
          ? `signal ${result.signal}`
          : (result.originalMessage ?? result.shortMessage);
    throw new ProcessError(
      `${options.failure ?? 'command failed'}: ${command} (${why})`,
      command,
      result.exitCode,
      tail,
      { hint: options.hint },
    );
  }
  return { stdout: String(result.stdout), stderr: String(result.stderr) };
}

function tailOf(text: string, lines: number): string {
  const all = text.split('\n');
  return all.length <= lines ? text : ['…', ...all.slice(-lines)].join('\n');
}

/** Start a process whose stdout is consumed as a stream (decompressors). */
export function runStreaming(file: string, args: readonly string[], options: { failure?: string; hint?: string } = {}) {
  const child = execa(file, args, { buffer: { stdout: false, stderr: true }, reject: false, stdin: 'ignore' });
  const done = (async () => {
    const result = await child;
    if (result.failed) {
      const command = [file, ...args].join(' ');
      const why = (result as { code?: string }).code === 'ENOENT' ? `${file} is not installed` : `exit code ${result.exitCode}`;
      throw new ProcessError(`${options.failure ?? 'command failed'}: ${command} (${why})`, command, result.exitCode, String(result.stderr ?? ''), {
        hint: options.hint,
      });
    }
  })();
  return { stdout: child.stdout!, done };
}
