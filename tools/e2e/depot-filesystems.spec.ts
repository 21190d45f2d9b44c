import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { DirectoryPublisher, readManifest } from '../../libs/core/src';
import { makeWheel, testdir } from '../testing';
import { freePorts } from '../testing/cache-server';
import { buildEnvironment, exec, quiet } from './helpers';

jest.setTimeout(900_000);

/**
 * The depot on the filesystems studios put it on, mounted by the test (as
 * root): a FUSE mount without symlinks or hard links (rclone over a local
 * folder, like an SMB share from a NAS), an sshfs mount of 127.0.0.1 (no
 * ownership changes, nlink always 1), tmpfs and a loop-mounted ext4, each on
 * another filesystem than the build. Publish, publish again, roll back, and
 * run what is current from the mount.
 */
const FILESYSTEMS = ['fuse-no-links', 'sshfs', 'tmpfs', 'ext4'] as const;

/** An sshd of this test's own on a free port of 127.0.0.1 (key login as this user, sftp), stopped with the test. */
async function startSshd(dir: string): Promise<{ port: number; key: string; stop(): void }> {
  const [port] = await freePorts(1);
  const key = path.join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(dir, 'host_key')}`, `PidFile ${path.join(dir, 'sshd.pid')}`, `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'StrictModes no', 'UsePAM no', 'Subsystem sftp internal-sftp', ''].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    if (spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0) break;
    execFileSync('sleep', ['0.1']);
  }
  return { port, key, stop: () => sshd.kill() };
}

describe('publishing to other filesystems', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-fs-');
  const mounts: string[] = [];
  let sshd: Awaited<ReturnType<typeof startSshd>> | undefined;
  afterAll(() => {
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    sshd?.stop();
    cleanup();
  });
  const builds: string[] = [];

  beforeAll(async () => {
    const ws = path.join(dir, 'ws');
    const wheels = path.join(ws, 'wheels');
    mkdirSync(wheels, { recursive: true });
    for (const version of ['1.0.0', '2.0.0']) {
      makeWheel(wheels, 'hello-tool', version, { script: 'hello-tool' });
      const specFile = path.join(ws, `environments/tool-${version}/environment.json`);
      mkdirSync(path.dirname(specFile), { recursive: true });
      writeFileSync(specFile, JSON.stringify({ python: '3.12', packages: [`hello-tool==${version}`], index: { noIndex: true, findLinks: ['../../wheels'] } }));
      builds.push((await buildEnvironment(specFile, path.join(ws, `dist/pydepot/tool-${version}`))).root);
    }
  });

  /** Mount a filesystem of this kind at a new folder; returns the folder. */
  async function mount(kind: (typeof FILESYSTEMS)[number] | 'fuse-no-exec'): Promise<string> {
    const at = path.join(dir, 'mnt', kind);
    mkdirSync(at, { recursive: true });
    if (kind === 'sshfs') {
      const keys = path.join(dir, 'sshd');
      mkdirSync(keys, { recursive: true });
      sshd ??= await startSshd(keys);
      const backing = path.join(dir, 'backing-sshfs');
      mkdirSync(backing);
      execFileSync('sshfs', ['-p', String(sshd.port), `${userInfo().username}@127.0.0.1:${backing}`, at, '-o', `IdentityFile=${sshd.key},StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes,LogLevel=ERROR`]);
    } else if (kind === 'tmpfs') execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'none', at]);
    else if (kind === 'ext4') {
      const image = path.join(dir, 'ext4.img');
      execFileSync('truncate', ['-s', '512M', image]);
      execFileSync('mkfs.ext4', ['-q', '-F', image]);
      execFileSync('mount', ['-o', 'loop', image, at]);
    } else {
      const backing = path.join(dir, `backing-${kind}`);
      mkdirSync(backing);
      const perms = kind === 'fuse-no-exec' ? [] : ['--file-perms', '0755', '--dir-perms', '0755'];
      // --vfs-cache-mode off: rclone's write-back cache loses files renamed with their folder (publish detects that, see directory.ts).
      execFileSync('rclone', ['mount', backing, at, '--daemon', '--vfs-cache-mode', 'off', ...perms], { env: { ...process.env, RCLONE_CONFIG: '/dev/null' } });
      for (let i = 0; i < 50 && !readFileSync('/proc/mounts', 'utf8').includes(at); i++) execFileSync('sleep', ['0.1']);
    }
    mounts.push(at);
    return at;
  }

  it.each(FILESYSTEMS)('publishes, republishes and rolls back on %s, and what is current runs from the mount', async (kind) => {
    const depot = path.join(await mount(kind), 'Tools Depot');
    const logs: string[] = [];
    const publisher = new DirectoryPublisher(depot);
    const publish = async (root: string) => {
      const manifest = await readManifest(root);
      return publisher.publish({ buildPath: root, manifest: { ...manifest, name: 'tool' }, log: (m) => logs.push(m) });
    };
    const v1 = await publish(builds[0]);
    const v2 = await publish(builds[1]);
    expect(v2.currentChanged).toBe(true);
    expect(logs.filter((l) => l.startsWith('writing runtime '))).toHaveLength(1);
    const current = () => JSON.parse(readFileSync(path.join(depot, 'tool/current.json'), 'utf8')).version as string;
    const run = (version: string) => {
      const root = path.join(depot, 'tool', version);
      return {
        tool: exec(path.join(root, 'bin/hello-tool')).trim(),
        python3: exec(path.join(root, 'bin/python3'), ['-c', 'import sys, hello_tool; print(sys.prefix, hello_tool.__version__)']).trim(),
      };
    };
    expect(run(current())).toEqual({ tool: 'hello-tool 2.0.0', python3: `${path.join(depot, 'tool', v2.version)} 2.0.0` });
    await publisher.rollback({ name: 'tool', ...quiet });
    expect(current()).toBe(v1.version);
    expect(run(current()).tool).toBe('hello-tool 1.0.0');
    const links = (readdirSync(depot, { recursive: true }) as string[]).map((rel) => path.join(depot, rel)).filter((p) => lstatSync(p).isSymbolicLink()).join('\n');
    if (kind === 'fuse-no-links') {
      // No symlink anywhere: current.json alone, the environment's own links as copies; no content store reuse.
      expect(links).toBe('');
      expect(logs.join('\n')).toMatch(/the depot's filesystem lacks symlinks, hard links: current\.json alone, symlinks inside environments as copies; copies instead of the content store/);
      expect(v2.filesLinked).toBe(0);
    } else if (kind === 'sshfs') {
      // Symlinks, but nlink is always 1: no content store, copies; owners are never copied (sftp cannot chown as asked).
      expect(links.split('\n')).toContain(path.join(depot, 'tool/current'));
      expect(logs.join('\n')).toMatch(/lacks hard links/);
    } else {
      expect(links.split('\n')).toContain(path.join(depot, 'tool/current'));
      // The shared layout: the runtime was written once, for v1; v2 wrote its own files and linked the unchanged ones.
      expect(v2.filesLinked).toBeGreaterThan(0);
    }
  });

  it('refuses a share that does not keep executable bits, naming the capability, and writes no version', async () => {
    const depot = path.join(await mount('fuse-no-exec'), 'depot');
    const manifest = await readManifest(builds[0]);
    await expect(new DirectoryPublisher(depot).publish({ buildPath: builds[0], manifest: { ...manifest, name: 'tool' }, ...quiet })).rejects.toThrow(
      /does not keep executable bits: a published bin\/python could not run from it/,
    );
    expect(execFileSync('find', [depot, '-mindepth', '2', '-not', '-name', '.objects']).toString().trim()).toBe('');
  });
});
