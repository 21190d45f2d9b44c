import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readManifest } from '../environment/manifest';
import { PydepotError, ProcessError } from '../errors';
import { copyTree, pathExists } from '../fs/tree';
import { run } from '../process/run';
import { releaseFor } from './history';
import { acquirePublishLock } from './lock';
import { assertFinished, assertSelfContained, LocalTree, passGate, Publisher, PublishRequest, PublishResult, RollbackRequest } from './publisher';

export interface GitPublisherOptions {
  /** Branch users sync (default "main"). */
  branch?: string;
  /** Write Git LFS attributes for binaries (the remote and the users need git-lfs). */
  lfs?: boolean;
  /** Where pydepot keeps its working clones. */
  cacheDir: string;
}

/** Binaries worth storing through Git LFS when `lfs` is on. */
export const LFS_PATTERNS = ['*.so', '*.so.*', '*.dylib', '*.dll', '*.pyd', '*.exe', '*.a', '*.lib'];

/**
 * Publishes into a deployment repository, as the seed did with version
 * control: each version is a commit on `branch` that replaces `<env>/`, tagged
 * `<env>/<version>`; users sync the branch and run `<env>/bin/python`, and a
 * release reaches them when they sync, not before. Rollback commits an
 * earlier tag's tree. Git keeps symlinks and executable bits; it drops
 * mtimes, which is why bytecode is compiled with unchecked-hash validation.
 * Concurrent publishers race on push; the loser re-applies its version on the
 * new head and pushes again.
 */
export class GitPublisher implements Publisher {
  readonly kind = 'git';

  constructor(
    readonly repository: string,
    readonly options: GitPublisherOptions,
  ) {}

  private get branch(): string {
    return this.options.branch ?? 'main';
  }

  private get workDir(): string {
    return path.join(this.options.cacheDir, 'git-depots-v1', createHash('sha256').update(this.repository).digest('hex').slice(0, 16));
  }

  async publish(request: PublishRequest): Promise<PublishResult> {
    assertFinished(request);
    assertSelfContained(request, 'git');
    const { manifest, log } = request;
    const name = manifest.name;
    const version = manifest.version;
    const tag = `${name}/${version}`;
    return this.withWorkTree(log, async (work) => {
      const head = await readManifest(path.join(work, name)).catch(() => undefined);
      if (head?.version === version) return this.result(version, false, false);
      const tagged = await this.git(work, ['tag', '--list', tag]).then((o) => o.trim() !== '');
      await fs.rm(path.join(work, name), { recursive: true, force: true });
      await copyTree(request.buildPath, path.join(work, name));
      // The tree about to be committed is what users will sync: check it before anything is pushed.
      await passGate(request, path.join(work, name), name, version, head?.version);
      if (this.options.lfs) await this.writeLfsAttributes(work);
      const release = releaseFor(manifest, head, 'publish');
      const changes = [
        ...release.changes.added.map((p) => `added ${p.name} ${p.version}`),
        ...release.changes.upgraded.map((p) => `${p.name} ${p.from} -> ${p.to}`),
        ...release.changes.removed.map((p) => `removed ${p.name} ${p.version}`),
      ];
      await this.commit(work, name, `${name} ${manifest.version}\n\nPython ${manifest.python.version}.${changes.length ? `\n\n${changes.map((c) => `- ${c}`).join('\n')}` : ''}\n`);
      if (!tagged) await this.git(work, [...(await identity(work)), 'tag', '-a', tag, '-m', `${name} ${manifest.version}`]);
      await this.push(work, tagged ? [] : [tag]);
      log(`committed ${name} ${manifest.version} to ${this.repository} (${this.branch}, tag ${tag})`);
      return this.result(version, !tagged, true);
    });
  }

  async rollback(request: RollbackRequest): Promise<PublishResult> {
    const { name, log } = request;
    return this.withWorkTree(log, async (work) => {
      const tags = (await this.git(work, ['tag', '--list', `${name}/*`, '--sort=-creatordate'])).split('\n').filter(Boolean);
      const head = await readManifest(path.join(work, name)).catch(() => undefined);
      const target = request.to ?? tags.map((t) => t.slice(name.length + 1)).find((v) => v !== head?.version);
      if (!target || !tags.includes(`${name}/${target}`)) {
        throw new PydepotError(`cannot roll ${name} back to ${target ?? '(no earlier version)'}: ${this.repository} has ${tags.join(', ') || 'no tags'}`, {
          hint: 'name one of those versions (nx run <env>:rollback --to=<version>)',
        });
      }
      if (head?.version === target) return this.result(target, false, false);
      await this.git(work, ['rm', '-r', '-q', '--ignore-unmatch', '--', name]);
      await this.git(work, ['checkout', `${name}/${target}`, '--', name]);
      await this.commit(work, name, `${name}: roll back to ${target}\n`);
      await this.push(work, []);
      log(`rolled ${name} back to ${target} in ${this.repository}`);
      return this.result(target, false, true);
    });
  }

  /** A checkout of `<env>/` at the branch head (the current version) or at a version's tag, in a temp folder. */
  async checkout(name: string, version?: string): Promise<LocalTree> {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pydepot-git-checkout-'));
    const dispose = () => fs.rm(tmp, { recursive: true, force: true });
    try {
      const repo = path.join(tmp, 'repo');
      const tree = path.join(tmp, 'tree');
      await fs.mkdir(tree);
      await run('git', ['clone', '--quiet', '--no-checkout', this.repository, repo], { env: gitEnv(), failure: `cannot clone ${this.repository}`, hint: 'check the repository URL and your access to it' });
      const ref = version ? `refs/tags/${name}/${version}` : `refs/remotes/origin/${this.branch}`;
      await run('git', ['--work-tree', tree, 'checkout', ref, '--', name], {
        cwd: repo,
        env: gitEnv(),
        failure: `${name}${version ? ` version ${version}` : ''} is not published in ${this.repository}`,
        hint: `run \`nx run ${name}:publish\` first`,
      });
      const manifest = await readManifest(path.join(tree, name));
      return { version: manifest.version ?? version ?? '', path: path.join(tree, name), dispose };
    } catch (error) {
      await dispose();
      throw error;
    }
  }

  private result(version: string, copied: boolean, currentChanged: boolean): PublishResult {
    return { version, location: `${this.repository}#${this.branch}`, copied, currentChanged, bytesWritten: 0, filesLinked: 0, filesCopied: 0, removed: [] };
  }

  /** Run `work` on an up-to-date working clone, under a local lock (one pydepot per clone). */
  private async withWorkTree(log: (m: string) => void, body: (work: string) => Promise<PublishResult>): Promise<PublishResult> {
    const work = this.workDir;
    await fs.mkdir(path.dirname(work), { recursive: true });
    const lock = await acquirePublishLock(path.dirname(work), { log });
    try {
      for (let attempt = 1; ; attempt++) {
        await this.sync(work);
        try {
          return await body(work);
        } catch (error) {
          // Another publisher pushed first: start again from the new head.
          if (error instanceof PushRejected && attempt < 4) {
            log(`${this.repository} moved on while publishing; retrying on the new head (attempt ${attempt + 1})`);
            continue;
          }
          throw error instanceof PushRejected ? new PydepotError(error.message, { hint: 'several publishers keep racing: publish again' }) : error;
        }
      }
    } finally {
      await lock.release();
    }
  }

  private async sync(work: string): Promise<void> {
    if (!(await pathExists(path.join(work, '.git')))) {
      await fs.rm(work, { recursive: true, force: true });
      await run('git', ['clone', '--quiet', this.repository, work], { env: gitEnv(), failure: `cannot clone ${this.repository}`, hint: 'check the repository URL and your access to it' });
    }
    await this.git(work, ['fetch', '--quiet', '--prune', '--tags', '--force', 'origin']);
    const remoteHead = await this.git(work, ['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${this.branch}`]).catch(() => '');
    if (remoteHead.trim()) {
      await this.git(work, ['checkout', '--quiet', '-B', this.branch, `origin/${this.branch}`]);
      await this.git(work, ['reset', '--quiet', '--hard', `origin/${this.branch}`]);
    } else {
      // An empty repository: the first publish creates the branch.
      await this.git(work, ['checkout', '--quiet', '--orphan', this.branch]).catch(() => undefined);
    }
    await this.git(work, ['clean', '-fdxq']);
  }

  private async commit(work: string, name: string, message: string): Promise<void> {
    await this.git(work, ['add', '-A', '--', name, ...(this.options.lfs ? ['.gitattributes'] : [])]);
    await this.git(work, [...(await identity(work)), 'commit', '--quiet', '--allow-empty', '-m', message]);
  }

  private async push(work: string, tags: string[]): Promise<void> {
    try {
      await this.git(work, ['push', '--quiet', '--atomic', 'origin', `HEAD:refs/heads/${this.branch}`, ...tags.map((t) => `refs/tags/${t}`)]);
    } catch (error) {
      if (error instanceof ProcessError && /rejected|non-fast-forward|fetch first|already exists/.test(error.output)) throw new PushRejected(`push to ${this.repository} was rejected`);
      throw error;
    }
  }

  private async writeLfsAttributes(work: string): Promise<void> {
    const file = path.join(work, '.gitattributes');
    const existing = await fs.readFile(file, 'utf8').catch(() => '');
    const lines = LFS_PATTERNS.map((p) => `${p} filter=lfs diff=lfs merge=lfs -text`).filter((l) => !existing.includes(l));
    if (lines.length) await fs.writeFile(file, `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`);
  }

  private async git(work: string, args: string[]): Promise<string> {
    const { stdout } = await run('git', args, { cwd: work, env: gitEnv(), failure: `git ${args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''} failed in ${work}` });
    return stdout;
  }
}

class PushRejected extends Error {}

/** Never prompt for credentials in a build. */
function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0' };
}

/** The agent's own git identity when it has one, else pydepot's. */
async function identity(work: string): Promise<string[]> {
  try {
    await run('git', ['config', 'user.email'], { cwd: work, env: gitEnv() });
    return [];
  } catch {
    return ['-c', 'user.name=pydepot', '-c', 'user.email=pydepot@localhost'];
  }
}
