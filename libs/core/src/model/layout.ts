/*
 * The one layout decision (docs/RELOCATION.md). Whether an environment runs
 * on a shared runtime in the depot or carries a private copy of its
 * interpreter depends on what the spec asks, where it is published, the
 * Python version, the platform and, once built, what the runtime can do.
 * The plugin decides with what a spec says (no runtime yet), the loader
 * with the same inputs (and refuses a contradiction), the venv stage with
 * the runtime too; all three call this function, so they cannot disagree
 * on anything but what only the built runtime can tell.
 */
export type EnvironmentLayoutKind = 'shared' | 'self-contained';

export interface LayoutInputs {
  /** The spec's "layout" (undefined: the default). */
  intent?: EnvironmentLayoutKind;
  /** The spec's "publish.to" (undefined: directory). */
  publishTo?: string;
  /** The CPython version asked for or built ("3.12", "3.9.18"); undefined when not known from the spec. */
  version?: string;
  platform?: NodeJS.Platform;
  /** Built on a base environment: its name and decided layout (an environment built on a base takes its layout). */
  base?: { name: string; layout: EnvironmentLayoutKind };
  /** The built runtime: whether it has pydepot's launcher. Undefined before it is built. */
  runtime?: { launcher: boolean; version: string };
}

export interface LayoutDecision {
  layout: EnvironmentLayoutKind;
  /** Why the layout is self-contained although the spec did not ask for it. */
  reason?: string;
  /** The spec asks for "shared" where it cannot be: the loader reports it, with `hint`. */
  conflict?: { message: string; hint: string };
}

export function decideLayout(inputs: LayoutInputs): LayoutDecision {
  const platform = inputs.platform ?? process.platform;
  const to = inputs.publishTo ?? 'directory';
  if (inputs.base) {
    if (inputs.base.layout === 'shared' && to !== 'directory') {
      return {
        layout: 'shared',
        conflict: {
          message: `"publish.to" is "${to}", but the base environment "${inputs.base.name}" runs on a shared runtime, which lives beside the environments in a depot folder`,
          hint: `publish this environment to a directory depot, or set "layout": "self-contained" in ${inputs.base.name}'s spec`,
        },
      };
    }
    return { layout: inputs.base.layout };
  }
  const selfContained = (reason: string, conflict?: LayoutDecision['conflict']): LayoutDecision => ({ layout: 'self-contained', reason, ...(inputs.intent === 'shared' && conflict ? { conflict } : {}) });
  if (inputs.intent === 'self-contained') return { layout: 'self-contained' };
  if (to !== 'directory') {
    return selfContained(`a ${to} publish carries each environment whole`, {
      message: `field "layout" is "shared", but "publish.to" is "${to}": shared runtimes live beside the environments in a depot folder`,
      hint: `remove "layout" (a ${to} publish carries a self-contained environment) or publish to a directory depot`,
    });
  }
  if (platform === 'win32') return selfContained('the shared layout is POSIX-only on this agent');
  const version = inputs.runtime?.version ?? inputs.version;
  const [major, minor] = (version ?? '').split('.').map(Number);
  if (version && (major < 3 || (major === 3 && minor < 10))) return selfContained(`CPython ${version} is older than 3.10 (a venv made from a shared environment needs 3.10's PyConfig)`);
  if (inputs.runtime && !inputs.runtime.launcher) return selfContained('the runtime has no launcher (no shared libpython or headers)');
  return { layout: 'shared' };
}
