import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import {
  bootstrapPip,
  cacheDir,
  createEnvironment,
  EnvironmentManifest,
  EnvironmentSpec,
  installRequirements,
  loadEnvironmentSpec,
  unpackDistribution,
} from '../../libs/core/src';

export const quiet = { log: () => undefined };

/** Run the four build stages through the core library, as the executors do. */
export async function buildEnvironment(specFile: string, buildDir: string): Promise<{ spec: EnvironmentSpec; manifest: EnvironmentManifest; root: string }> {
  const spec = loadEnvironmentSpec(specFile);
  const stage = (name: string) => path.join(buildDir, name);
  await unpackDistribution({ spec, outputPath: stage('unpack'), cacheDir: cacheDir(), ...quiet });
  await bootstrapPip({ inputPath: stage('unpack'), outputPath: stage('ensurepip'), ...quiet });
  await createEnvironment({ inputPath: stage('ensurepip'), outputPath: stage('venv'), name: spec.name, ...quiet });
  const manifest = await installRequirements({ inputPath: stage('venv'), outputPath: stage('env'), spec, cacheDir: cacheDir(), ...quiet });
  return { spec, manifest, root: stage('env') };
}

/** Run a program with a clean environment (no PYTHON*, no pip settings) from a neutral folder. */
export function exec(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(file, args, { cwd: '/', env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Files under `root` whose text mentions `needle` (grep -rlI: binary files are skipped). */
export function grepText(root: string, needle: string): string[] {
  try {
    return execFileSync('grep', ['-rlIF', needle, root]).toString().trim().split('\n').filter(Boolean);
  } catch (error) {
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
}
