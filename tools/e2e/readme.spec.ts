import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeWorkspace, REPO } from './helpers';

jest.setTimeout(1_200_000);

/**
 * Every command the README shows, run verbatim (placeholders filled in) in a
 * copy of this workspace, through `npx nx` as a user types it. Each command
 * must also still appear in README.md word for word, so the two cannot drift
 * apart. (`npm ci` and `npm test` are what .ci/run itself runs.)
 */
const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');
const NAME = 'readme-tool';

describe('the README, command by command', () => {
  const { ws, cleanup } = makeWorkspace();
  afterAll(cleanup);

  /** Run one README command (after checking README.md shows it) with `<name>`-style placeholders filled in. */
  function sh(shown: string, fill: Record<string, string> = {}, env: Record<string, string> = {}): { status: number | null; out: string } {
    expect(README.split('\\|').join('|')).toContain(shown); // a table cell escapes its pipes
    let command = shown;
    for (const [key, value] of Object.entries(fill)) command = command.split(`<${key}>`).join(value);
    const result = spawnSync('bash', ['-c', command], {
      cwd: ws,
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0', ...env },
      encoding: 'utf8',
    });
    const out = `${result.stdout}\n${result.stderr}`;
    expect({ command, status: result.status, out: result.status === 0 ? '' : out }).toEqual({ command, status: 0, out: '' });
    return { status: result.status, out };
  }

  it('quick start: publish both examples, run them, verify them', () => {
    sh('npx nx run-many -t publish');
    expect(sh('dist/depot/maxscript-imaging/current/bin/python -c "import PIL; print(PIL.__version__)"').out.trim()).toBe('13.0.0');
    expect(sh('dist/depot/cli-tools/current/bin/pygmentize -V').out).toContain('Pygments version');
    expect(sh('npx nx run-many -t verify').out).toMatch(/Successfully ran target verify for 2 projects/);
  });

  it('adding an environment with the generator, then the day-to-day commands', () => {
    sh('npx nx g @pydepot/nx-plugin:environment <name> --python 3.12 --packages pillow==13.0.0', { name: NAME });
    expect(JSON.parse(readFileSync(path.join(ws, 'environments', NAME, 'environment.json'), 'utf8'))).toMatchObject({ python: '3.12', packages: ['pillow==13.0.0'] });
    expect(sh('npx nx show projects').out.split('\n')).toContain(NAME);
    // One runtime project per Python: the new environment on 3.12 shares python-3.12 with maxscript-imaging.
    expect(sh('npx nx show projects --with-target=runtime').out.split('\n').map((l) => l.trim()).filter(Boolean).sort()).toEqual(['python-3.11', 'python-3.12']);
    sh('npx nx run <name>:publish', { name: NAME });
    const first = realpathSync(path.join(ws, 'dist/depot', NAME, 'current'));

    sh('npx nx run <name>:lock', { name: NAME });
    expect(readFileSync(path.join(ws, 'environments', NAME, 'requirements.lock'), 'utf8')).toMatch(/^pillow==13\.0\.0\b/m);
    sh('npx nx run <name>:wheelhouse', { name: NAME });
    expect(existsSync(path.join(ws, 'dist/wheelhouse', NAME))).toBe(true);
    sh('PYDEPOT_WHEELHOUSE=dist/wheelhouse npx nx run <name>:publish', { name: NAME });

    // A change (and its lock), then only what it touched is built and published.
    const specFile = path.join(ws, 'environments', NAME, 'environment.json');
    const spec = JSON.parse(readFileSync(specFile, 'utf8'));
    writeFileSync(specFile, JSON.stringify({ ...spec, packages: [...spec.packages, 'click==8.5.1'] }, null, 2));
    sh('npx nx run <name>:lock', { name: NAME });
    const shards = sh('npx nx show projects --affected --with-target=publish --json | node tools/ci/shards.js --total 4').out;
    expect(JSON.parse(shards.split('\n').find((l) => l.startsWith('['))!)).toEqual([NAME]);
    const affected = sh('npx nx affected -t publish');
    expect(affected.out).toContain(`nx run ${NAME}:publish`);
    expect(affected.out).not.toContain('nx run cli-tools:publish');
    expect(realpathSync(path.join(ws, 'dist/depot', NAME, 'current'))).not.toBe(first);

    sh('npx nx run <name>:rollback', { name: NAME });
    expect(realpathSync(path.join(ws, 'dist/depot', NAME, 'current'))).toBe(first);
    sh('npx nx run <name>:rollback --to=<version>', { name: NAME, version: path.basename(first) });
    expect(sh('npx nx run-many -t verify').out).toMatch(/Successfully ran target verify for 3 projects/);
    expect(realpathSync(path.join(ws, 'dist/depot', NAME, 'current'))).toBe(first);
  });
});
