import { promises as fs } from 'node:fs';
import { checkTreeIntegrity, describeProblems } from '../environment/integrity';
import { readManifest } from '../environment/manifest';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { Publisher } from '../publish/publisher';
import { EnvironmentSpec } from '../model/environment';
import { auditTree, formatFindings } from './audit';
import { runSmokeChecks } from './smoke';
import { findWindowsRunner } from '../tools/wine';
import { foreignPlatformOf } from '../model/platform';
import { hostLayout, WINDOWS_LAYOUT, WINDOWS_SHARED_LAYOUT } from '../environment/layout';

/**
 * The checks a published tree must pass: the spec's smoke checks and, when
 * `forbiddenPaths` is given, the relocation audit (no file names the
 * workspace, the build folders or where the interpreter came from, as the
 * caller names them: nothing here resolves a distribution). Used twice: by
 * publish as its gate (before `current` moves) and by the verify target on
 * what is current.
 */
export async function checkPublishedTree(options: { tree: string; spec: EnvironmentSpec; forbiddenPaths?: string[] }): Promise<{ passed: string[]; audited: boolean; skipped?: string }> {
  const { tree, spec } = options;
  // The checks this version was built with (its manifest); a version built before they were recorded: the spec's.
  const manifest = await readManifest(tree).catch(() => undefined);
  const checks = manifest?.verify ?? spec.verify;
  // A Windows version on another OS runs under Wine where there is one; without it, only the audit can run.
  const windows = manifest !== undefined && foreignPlatformOf(manifest) === 'windows';
  const runner = windows ? await findWindowsRunner() : undefined;
  const layout = windows ? (manifest.runtime ? WINDOWS_SHARED_LAYOUT : WINDOWS_LAYOUT) : hostLayout();
  const skipped =
    windows && !runner && (checks.imports.length || checks.commands.length || checks.importPackages)
      ? `the smoke checks of this Windows version did not run: no Wine on this ${process.platform} agent (install wine, or run verify-windows on a Windows machine)`
      : undefined;
  const passed = skipped ? [] : await runSmokeChecks(tree, checks, layout, runner);
  if (!options.forbiddenPaths) return { passed, audited: false, skipped };
  const needles = options.forbiddenPaths;
  const real = await Promise.all(needles.map((n) => fs.realpath(n).catch(() => n)));
  const findings = await auditTree(tree, [...needles, ...real], undefined, { windows: Boolean(windows) });
  if (findings.length) {
    throw new PydepotError(`the published environment ${tree} is tied to the build machine (${findings.length} finding(s)):\n${formatFindings(findings)}`, {
      path: tree,
      hint: 'it may break when the depot is reached through another path: fix the findings, then publish again',
    });
  }
  return { passed, audited: true, skipped };
}

/**
 * verify: what is current for the environment, as its publisher hands it out
 * (the depot folder, a checkout of the deployment repository, the unpacked
 * archive), passes its checks. Never publishes and never moves `current`.
 */
export async function verifyPublished(options: {
  spec: EnvironmentSpec;
  publisher: Publisher;
  forbiddenPaths?: string[];
  /** Compare every file's sha256 with the published index, not only sizes. */
  full?: boolean;
  log: (m: string) => void;
}): Promise<{ location: string; version: string; passed: string[]; audited: boolean; filesChecked: number; skipped?: string }> {
  const tree = await options.publisher.checkout(options.spec.name);
  try {
    options.log(`checking ${options.spec.name} ${tree.version} (current) at ${tree.path}`);
    const filesChecked = await checkIntegrity(tree.path, options.spec.name, tree.version, options.full === true);
    const result = await checkPublishedTree({ tree: tree.path, spec: options.spec, forbiddenPaths: options.forbiddenPaths });
    return { location: tree.path, version: tree.version, filesChecked, ...result };
  } finally {
    await tree.dispose();
  }
}

/**
 * The version and the runtime it runs on, against the file index each was
 * published with, before anything runs from them: a damaged file is named
 * (a truncated libpython would only show as a SIGBUS). Returns how many
 * entries were checked.
 */
async function checkIntegrity(root: string, name: string, version: string, full: boolean): Promise<number> {
  const manifest = await readManifest(root).catch(() => undefined);
  const trees: Array<{ what: string; root: string; hint: string }> = [
    { what: `${name} ${version}`, root, hint: `publish it again (nx run ${name}:publish --skip-nx-cache), or sync the depot again` },
  ];
  if (manifest?.runtime) {
    trees.push({
      what: `runtime ${manifest.runtime.id} (that ${name} runs on)`,
      root: path.resolve(root, manifest.runtime.path),
      hint: `publish any environment on it (nx run ${name}:publish): a damaged runtime is repaired, atomically; or sync the depot's _runtimes folder again`,
    });
  }
  let checked = 0;
  for (const tree of trees) {
    const report = await checkTreeIntegrity(tree.root, { full });
    checked += report.checked;
    if (report.problems.length) {
      throw new PydepotError(`${tree.what} at ${tree.root} is damaged (${report.problems.length} of ${report.checked} entries${full ? ', by sha256' : ', by size'}):\n${describeProblems(report.problems)}`, {
        path: path.join(tree.root, report.problems[0].rel),
        hint: tree.hint,
      });
    }
  }
  return checked;
}
