import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { hostPlatform } from '../interpreter/discover';
import { run } from '../process/run';
import { recordedName, unpackPythonTree } from './archive';
import { fetchVerified } from '../download/download';
import { DistributionSource, UnpackContext, UnpackedPython } from './source';

/**
 * A Windows installer (.msi), pinned by sha256, unpacked without installing
 * it: an administrative install (`msiexec /a … TARGETDIR=…`) on Windows, as
 * the seed did, or Debian's msitools (`msiextract`) on Linux, so a CI agent
 * without Windows can prepare and check a Windows tree. Only its files are
 * taken; its custom actions and registry entries never run.
 */
export class MsiSource implements DistributionSource {
  readonly kind = 'msi';

  constructor(
    readonly msi: string,
    readonly sha256: string,
  ) {}

  describe(): string {
    return `MSI ${this.msi} (sha256 ${this.sha256.slice(0, 12)}…)`;
  }

  identity(): string {
    return `msi ${this.sha256} ${hostPlatform()}`;
  }

  originPaths(): string[] {
    return [];
  }

  async unpack(dest: string, context: UnpackContext): Promise<UnpackedPython> {
    const file = await fetchVerified(this.msi, this.sha256, context.cacheDir, { log: context.log, offline: context.offline });
    context.log(`unpacking ${this.describe()}`);
    return unpackPythonTree(
      async (scratch) => {
        await fs.mkdir(scratch, { recursive: true });
        await extractMsi(file, scratch);
      },
      this.msi,
      dest,
      context,
      { kind: this.kind, msi: recordedName(this.msi), sha256: this.sha256 },
    );
  }
}

/** Extract an MSI's files into `dest` with the platform's own tool. */
export async function extractMsi(file: string, dest: string, platform: string = process.platform): Promise<void> {
  if (platform === 'win32') {
    // An administrative install copies the files only; /qn: no UI; the log goes nowhere.
    await run('msiexec', ['/a', path.resolve(file), '/qn', `TARGETDIR=${path.resolve(dest)}`], {
      failure: `msiexec could not unpack ${file}`,
      hint: 'check that the file is a valid MSI and that the target folder is writable',
    });
    return;
  }
  await run('msiextract', ['-C', dest, file], {
    failure: `msiextract could not unpack ${file}`,
    hint: 'install Debian\'s msitools (apt-get install msitools), or unpack the MSI on Windows',
  });
}
