import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { exec, makeToolWorkspace, nxWith, taskLines } from './helpers';

jest.setTimeout(900_000);

/**
 * A depot that proves and heals itself, through Nx as users run it, with
 * the faults injected: a runtime truncated by a partial sync and a stdlib
 * file changed at the same size (verify names them; publish repairs the
 * runtime), a share that loses a runtime file after writing it (removed,
 * never reused), a disk that fills during a runtime write (no orphans, no
 * lock), a kill between the two current pointers (verify says so, the next
 * publish mends it), retention that must not collect a runtime a
 * publish in progress holds, and a publish replayed from Nx's cache only
 * while the depot is as a publish left it.
 */
describe('a depot that proves and heals itself', () => {
  const workspace = makeToolWorkspace(['1.0.0', '2.0.0']);
  const { ws, dir } = workspace;
  afterAll(workspace.cleanup);
  const spec = (name: string, body: Record<string, unknown>) => workspace.spec(name, { verify: { commands: [['hello-tool']] }, ...body });
  spec('tool', { python: '3.12', packages: ['hello-tool==1.0.0'] });
  const depot = path.join(ws, 'dist/depot');
  const nx = (env: NodeJS.ProcessEnv, ...args: string[]) => nxWith(env, ws, ...args);
  const ok = (r: { status: number; out: string }) => expect({ status: r.status, out: r.status ? r.out : '' }).toEqual({ status: 0, out: '' });
  const runtimeDir = () => {
    const cfg = readFileSync(path.join(depot, 'tool/current/pyvenv.cfg'), 'utf8');
    return path.join(depot, '_runtimes', /_runtimes\/([^/\n]+)/.exec(cfg)![1]);
  };
  const libpython = () => path.join(runtimeDir(), 'lib', readdirSync(path.join(runtimeDir(), 'lib')).find((n) => /^libpython3\.12\.so\.1\.0$/.test(n))!);
  const orphans = () => readdirSync(path.join(depot, '.objects')).filter((n) => statSync(path.join(depot, '.objects', n)).nlink === 1);

  beforeAll(() => ok(nx({}, 'run', 'tool:publish')));

  it('names a truncated runtime file in verify, and the next publish repairs the runtime atomically', () => {
    ok(nx({}, 'run', 'tool:verify'));
    const lib = libpython();
    const size = statSync(lib).size;
    truncateSync(lib, 4096);
    const verify = nx({}, 'run', 'tool:verify');
    expect(verify.status).not.toBe(0);
    expect(verify.out).toContain(`runtime ${path.basename(runtimeDir())} (that tool runs on) at ${runtimeDir()} is damaged`);
    expect(verify.out).toContain(`lib/${path.basename(lib)} is 4096 bytes; it was published with ${size}`);
    expect(verify.out).toContain('a damaged runtime is repaired');
    const publish = nx({}, 'run', 'tool:publish');
    ok(publish);
    expect(publish.out).toContain(`runtime ${path.basename(runtimeDir())} in the depot is damaged; repairing it`);
    expect(publish.out).toMatch(/is current; its runtime was repaired \(\d/);
    expect(statSync(libpython()).size).toBe(size);
    expect(exec(path.join(depot, 'tool/current/bin/hello-tool')).trim()).toBe('hello-tool 1.0.0');
    ok(nx({}, 'run', 'tool:verify', '--full'));
    expect(orphans()).toEqual([]);
  });

  it('finds a same-size change to a stdlib file with --full (the quick check sees sizes only)', () => {
    const file = path.join(runtimeDir(), 'lib/python3.12/json/encoder.py');
    const text = readFileSync(file, 'utf8');
    chmodSync(file, 0o644);
    // A new inode (as a sync tool writes it), so the store's object stays intact.
    rmSync(file);
    writeFileSync(file, text.replace('"', "'"));
    ok(nx({}, 'run', 'tool:verify'));
    const full = nx({}, 'run', 'tool:verify', '--full');
    expect(full.status).not.toBe(0);
    expect(full.out).toContain('lib/python3.12/json/encoder.py has other content than was published (sha256 differs)');
    writeFileSync(file, text);
    ok(nx({}, 'run', 'tool:verify', '--full'));
  });

  it('removes a runtime that failed its completeness check after writing, so it is never reused', () => {
    const id = path.basename(runtimeDir());
    // A fresh depot: the runtime is written there, and the share "loses" a file of it.
    const other = path.join(dir, 'other-depot');
    const lost = nx({ PYDEPOT_DEPOT: other, PYDEPOT_FAULT_LOSE: 'runtime:lib/python3.12/os.py' }, 'run', 'tool:publish');
    expect(lost.status).not.toBe(0);
    expect(lost.out).toContain(`the depot lost 1 file(s) of ${path.join(other, '_runtimes', id)}`);
    expect(existsSync(path.join(other, '_runtimes', id))).toBe(false);
    expect(readdirSync(path.join(other, '_runtimes')).filter((n) => !n.startsWith('.lock'))).toEqual([]);
    expect(readdirSync(path.join(other, '.objects')).filter((n) => statSync(path.join(other, '.objects', n)).nlink === 1)).toEqual([]);
    const again = nx({ PYDEPOT_DEPOT: other }, 'run', 'tool:publish');
    ok(again);
    expect(again.out).toContain(`writing runtime ${id}`);
    expect(exec(path.join(other, 'tool/current/bin/hello-tool')).trim()).toBe('hello-tool 1.0.0');
  });

  it('leaves no orphan objects, temp folders or lock when the disk fills during a runtime write', () => {
    if (process.getuid?.() !== 0) return; // mounting a small tmpfs needs root (CI runs as root)
    const mnt = path.join(dir, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
    try {
      const full = nx({ PYDEPOT_DEPOT: mnt }, 'run', 'tool:publish');
      expect(full.status).not.toBe(0);
      expect(full.out).toMatch(/publishing runtime \S+ to \S+ failed: .*(ENOSPC|No space left)/s);
      expect(full.out).toContain('the depot is full');
      // Only the empty folders a publish starts with: no object, temp folder, hold or lock.
      const left = execFileSync('find', [mnt, '-mindepth', '1'], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(left).toEqual([path.join(mnt, '.objects'), path.join(mnt, '_runtimes'), path.join(mnt, 'tool')]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('reports split current pointers (a kill between them) in verify, and the next publish mends them', () => {
    spec('tool', { python: '3.12', packages: ['hello-tool==2.0.0'] });
    const killed = nx({ PYDEPOT_FAULT_KILL_AT_LABEL: 'current link' }, 'run', 'tool:publish');
    expect(killed.status).not.toBe(0);
    const link = readlinkSync(path.join(depot, 'tool/current'));
    const json = JSON.parse(readFileSync(path.join(depot, 'tool/current.json'), 'utf8')).version;
    expect(link).not.toBe(json);
    const verify = nx({}, 'run', 'tool:verify');
    expect(verify.status).not.toBe(0);
    expect(verify.out).toContain(`tool's two current pointers disagree: ${path.join(depot, 'tool/current')} → ${link}, ${path.join(depot, 'tool/current.json')} names ${json}`);
    ok(nx({}, 'run', 'tool:publish'));
    expect(JSON.parse(readFileSync(path.join(depot, 'tool/current.json'), 'utf8')).version).toBe(readlinkSync(path.join(depot, 'tool/current')));
    ok(nx({}, 'run', 'tool:verify'));
    expect(exec(path.join(depot, 'tool/current/bin/hello-tool')).trim()).toBe('hello-tool 2.0.0');
  });

  it("never collects a runtime a publish in progress holds, whatever one environment's keep and keepDays say", () => {
    // "newcomer" (3.11) is killed right after its runtime is written: its version is not there yet, its hold is.
    spec('newcomer', { python: '3.11', packages: ['hello-tool==1.0.0'] });
    const killed = nx({ PYDEPOT_FAULT_KILL_AT_LABEL: 'runtime' }, 'run', 'newcomer:publish');
    expect(killed.status).not.toBe(0);
    const held = readdirSync(path.join(depot, '_runtimes')).find((n) => n.startsWith('cpython-3.11'))!;
    expect(held).toBeDefined();
    // "tool" keeps one version and no grace: its retention collects unused runtimes, with no depot-wide grace either.
    spec('tool', { python: '3.12', packages: ['hello-tool==1.0.0'], publish: { keep: 1, keepDays: 0 } });
    const collecting = nx({ PYDEPOT_RUNTIME_GRACE_DAYS: '0' }, 'run', 'tool:publish');
    ok(collecting);
    expect(collecting.out).toMatch(/retention \(keep 1\): removed/);
    expect(existsSync(path.join(depot, '_runtimes', held, 'pydepot.json'))).toBe(true);
    ok(nx({}, 'run', 'newcomer:publish'));
    expect(exec(path.join(depot, 'newcomer/current/bin/hello-tool')).trim()).toBe('hello-tool 1.0.0');
  });

  it('replays publish from the cache only while the depot is as a publish left it', () => {
    spec('tool', { python: '3.12', packages: ['hello-tool==2.0.0'] });
    ok(nx({}, 'run', 'tool:publish')); // publishes 2.0.0
    ok(nx({}, 'run', 'tool:publish')); // finds it current: records that state
    const replayed = nx({}, 'run', 'tool:publish');
    ok(replayed);
    expect(taskLines(replayed.out)['tool:publish']).toMatch(/cache/);
    expect(replayed.out).toContain('is up to date; nothing written');
    const built = JSON.parse(readFileSync(path.join(depot, 'tool/current.json'), 'utf8')).version;
    // A rollback moves current: the next publish runs, and makes the build current again.
    ok(nx({}, 'run', 'tool:rollback'));
    expect(JSON.parse(readFileSync(path.join(depot, 'tool/current.json'), 'utf8')).version).not.toBe(built);
    const after = nx({}, 'run', 'tool:publish');
    ok(after);
    expect(taskLines(after.out)['tool:publish']).toBe('');
    expect(JSON.parse(readFileSync(path.join(depot, 'tool/current.json'), 'utf8')).version).toBe(built);
    // A depot named on the command line is one the plugin's hook does not read: never replayed.
    const other = path.join(dir, 'named-depot');
    for (const round of [1, 2]) {
      const run = nx({}, 'run', 'tool:publish', `--depot=${other}`);
      ok(run);
      expect([round, taskLines(run.out)['tool:publish']]).toEqual([round, expect.not.stringMatching(/cache/)]);
    }
    expect(JSON.parse(readFileSync(path.join(other, 'tool/current.json'), 'utf8')).version).toBe(built);
  });
});
