import { DEFAULT_INDEX_URL } from '../model/environment';
import { PipInstaller, pipInstallArgs } from './pip';

// Mock only the process boundary: what pip is asked to do, and in what environment.
jest.mock('../process/run', () => ({ run: jest.fn(async () => ({ stdout: '', stderr: '' })) }));
import { run } from '../process/run';

const request = {
  packages: ['pillow==11.0.0'],
  requirementFiles: ['/ws/environments/x/requirements.txt'],
  index: { url: DEFAULT_INDEX_URL, extraUrls: ['https://extra.test/simple'], findLinks: ['/ws/wheels'], noIndex: false },
  cacheDir: '/cache',
  environment: 'x',
  specFile: '/ws/environments/x/environment.json',
};

describe('pip installer', () => {
  it('passes only the spec\'s index settings, installs by name and never compiles with build paths', () => {
    const args = pipInstallArgs(request);
    expect(args).toEqual(expect.arrayContaining(['--isolated', '--no-compile', '--index-url', DEFAULT_INDEX_URL, '--extra-index-url', 'https://extra.test/simple', '--find-links', '/ws/wheels', '-r', '/ws/environments/x/requirements.txt', 'pillow==11.0.0']));
    expect(pipInstallArgs({ ...request, index: { ...request.index, noIndex: true } })).toContain('--no-index');
  });

  it('refuses paths and URLs as packages (pip would record them absolutely)', () => {
    expect(() => pipInstallArgs({ ...request, packages: ['/tmp/x.whl'] })).toThrow(/installed by name/);
    expect(() => pipInstallArgs({ ...request, packages: ['--pre'] })).toThrow(/looks like a pip option/);
  });

  it('runs the environment\'s pip isolated from the machine\'s pip configuration', async () => {
    const saved = { ...process.env };
    process.env.PIP_FIND_LINKS = '/opt/wheels';
    process.env.PIP_CONSTRAINT = '/etc/constraints.txt';
    process.env.PYTHONPATH = '/somewhere';
    process.env.HTTPS_PROXY = 'http://proxy.test:3128';
    try {
      await new PipInstaller().install('/env', request);
    } finally {
      process.env = saved;
    }
    const [file, args, options] = (run as jest.Mock).mock.calls[0];
    expect(file).toBe('/env/bin/python');
    expect(args.slice(0, 3)).toEqual(['-m', 'pip', 'install']);
    const env = options.env as NodeJS.ProcessEnv;
    expect(env.PIP_CONFIG_FILE).toBe('/dev/null');
    expect(env.PIP_FIND_LINKS).toBeUndefined();
    expect(env.PIP_CONSTRAINT).toBeUndefined();
    expect(env.PYTHONPATH).toBeUndefined();
    expect(env.HTTPS_PROXY).toBe('http://proxy.test:3128');
    expect(env.PYTHONNOUSERSITE).toBe('1');
  });

  it('skips pip when there is nothing to install', async () => {
    (run as jest.Mock).mockClear();
    await new PipInstaller().install('/env', { ...request, packages: [], requirementFiles: [] });
    expect(run).not.toHaveBeenCalled();
  });
});

describe('credentials in index URLs', () => {
  it('are masked in every formatted error, command line and installer output alike', () => {
    const { maskCredentials, formatError, ProcessError } = require('../errors') as typeof import('../errors');
    expect(maskCredentials('pip install --index-url https://ci:s3cret@pypi.studio/simple x')).toBe('pip install --index-url https://ci:****@pypi.studio/simple x');
    expect(maskCredentials('https://TOKEN@pypi.studio/simple and http://a:b@h:8080/p')).toBe('https://****@pypi.studio/simple and http://a:****@h:8080/p');
    expect(maskCredentials('https://pypi.org/simple git@github.com:x/y')).toBe('https://pypi.org/simple git@github.com:x/y');
    const error = new ProcessError('pip failed: pip --index-url https://ci:s3cret@pypi.studio/simple', 'pip', 1, 'Looking in indexes: https://ci:s3cret@pypi.studio/simple\n401 Unauthorized');
    expect(formatError(error)).not.toContain('s3cret');
    expect(formatError(error)).toContain('https://ci:****@pypi.studio/simple');
  });
});

describe('installing for another platform', () => {
  it('names the package that has no wheel for the platform, from what pip and uv say', () => {
    const { missingWheel } = jest.requireActual('./installer') as typeof import('./installer');
    expect(missingWheel('ERROR: Could not find a version that satisfies the requirement sourceonly==1.0 (from versions: none)\nERROR: No matching distribution found for sourceonly==1.0')).toBe('sourceonly==1.0');
    expect(missingWheel('error: No solution found when resolving dependencies\n  cause: Because sourceonly==1.0 has no usable wheels and you require sourceonly==1.0, we can conclude that your requirements are unsatisfiable.')).toBe('sourceonly');
    expect(missingWheel('ERROR: some other failure')).toBeUndefined();
  });

  it('asks pip for binary wheels of the platform, unpacked into the environment\'s site-packages', () => {
    const { foreignPipArgs } = jest.requireActual('./pip') as typeof import('./pip');
    expect(foreignPipArgs({ python: '/py/bin/python3.11', sitePackages: '/env/Lib/site-packages', version: '3.11', pipPlatform: 'win_amd64', uvPlatform: 'x86_64-pc-windows-msvc' })).toEqual([
      '--target', '/env/Lib/site-packages', '--upgrade', '--platform', 'win_amd64', '--only-binary=:all:', '--python-version', '3.11', '--implementation', 'cp',
    ]);
  });
});
