import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { resolveDistribution } from '../distribution';
import { MANIFEST_FILE, readManifest } from '../environment/manifest';
import { PydepotError } from '../errors';
import { pathExists } from '../fs/tree';
import { readCurrentVersion } from '../publish/directory';
import { EnvironmentSpec } from '../spec/environment';
import { auditTree, formatFindings } from './audit';
import { runSmokeChecks } from './smoke';

/**
 * verify: the published copy (never the build folder) passes its smoke
 * checks and, when `forbiddenPaths` is given, an audit for build paths.
 */
export async function verifyPublished(options: {
  spec: EnvironmentSpec;
  depot: string;
  buildPath: string;
  forbiddenPaths?: string[];
  log: (m: string) => void;
}): Promise<{ location: string; passed: string[]; audited: boolean }> {
  const { spec } = options;
  const envDir = path.join(options.depot, spec.name);
  const built = (await pathExists(path.join(options.buildPath, MANIFEST_FILE))) ? (await readManifest(options.buildPath)).version : undefined;
  const version = built ?? (await readCurrentVersion(envDir));
  const location = version ? path.join(envDir, version) : envDir;
  if (!version || !(await pathExists(path.join(location, MANIFEST_FILE)))) {
    throw new PydepotError(`${spec.name} is not published at ${location}`, { path: location, hint: `run \`nx run ${spec.name}:publish\` first` });
  }
  options.log(`checking ${location}`);
  const passed = await runSmokeChecks(location, spec.verify);
  if (!options.forbiddenPaths) return { location, passed, audited: false };
  const needles = [...options.forbiddenPaths, ...resolveDistribution(spec.python).originPaths()];
  const real = await Promise.all(needles.map((n) => fs.realpath(n).catch(() => n)));
  const findings = await auditTree(location, [...needles, ...real]);
  if (findings.length) {
    throw new PydepotError(`the published environment ${location} is tied to the build machine (${findings.length} finding(s)):\n${formatFindings(findings)}`, {
      path: location,
      hint: 'it may break when the depot is reached through another path: fix the findings, then publish again',
    });
  }
  return { location, passed, audited: true };
}
