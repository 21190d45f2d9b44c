import type { EnvironmentManifest } from '../../libs/core/src/environment/manifest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A temp folder filled from an inline map of files; removed by `cleanup()`. */
export function testdir(files: Record<string, string | Buffer> = {}, prefix = 'pydepot-test-'): { dir: string; cleanup(): void } {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
  writeFiles(dir, files);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFiles(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

/** The pyenv CPython of a minor version on this machine (tests that need one skip nothing: they fail loudly). */
export function pyenvPython(minor: string): string {
  const root = process.env.PYENV_ROOT || path.join(os.homedir(), '.pyenv');
  const out = execFileSync('bash', ['-c', `ls -d ${root}/versions/${minor}.* | sort -V | tail -1`]).toString().trim();
  if (!out) throw new Error(`CPython ${minor} is not installed under ${root}/versions`);
  return path.join(out, 'bin', `python${minor}`);
}

/** Run a Python snippet with a pyenv interpreter (used to craft archives and wheels). */
export function python(code: string, args: string[] = [], minor = '3.12'): string {
  return execFileSync(pyenvPython(minor), ['-c', code, ...args], { env: { PATH: process.env.PATH ?? '' } }).toString();
}

/**
 * Write a minimal pure-Python wheel (with an optional console script) into
 * `dir`, so install tests need no network.
 */
export function makeWheel(dir: string, name: string, version: string, options: { module?: string; script?: string } = {}): string {
  const code = `
import base64, hashlib, os, sys, zipfile
out, name, version, module, script = sys.argv[1:6]
dist = name.replace('-', '_')
files = {
  f"{dist}/__init__.py": module or f"__version__ = '{version}'\\ndef main():\\n    print('{name} {version}')\\n    return 0\\n",
  f"{dist}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
  f"{dist}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: pydepot-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
if script:
  files[f"{dist}-{version}.dist-info/entry_points.txt"] = f"[console_scripts]\\n{script} = {dist}:main\\n"
record = f"{dist}-{version}.dist-info/RECORD"
lines = []
for path, text in files.items():
  data = text.encode()
  digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
  lines.append(f"{path},sha256={digest},{len(data)}")
lines.append(f"{record},,")
files[record] = "\\n".join(lines) + "\\n"
wheel = os.path.join(out, f"{dist}-{version}-py3-none-any.whl")
with zipfile.ZipFile(wheel, 'w') as z:
  for path, text in files.items():
    z.writestr(path, text)
print(wheel)
`;
  return python(code, [dir, name, version, options.module ?? '', options.script ?? '']).trim();
}

export type Fault = 'ok' | '500' | '404' | 'truncate' | 'hang-up';

/**
 * A static file server on 127.0.0.1 for download tests: serves `root`,
 * counts requests per path, and answers the next requests of a path with
 * the faults queued for it (`faults.set('/x', ['500', 'ok'])`).
 */
export async function serveDirectory(root: string): Promise<{
  url: string;
  requests: Map<string, number>;
  faults: Map<string, Fault[]>;
  close(): Promise<void>;
}> {
  const http = await import('node:http');
  const fs = await import('node:fs');
  const requests = new Map<string, number>();
  const faults = new Map<string, Fault[]>();
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.set(urlPath, (requests.get(urlPath) ?? 0) + 1);
    const fault = faults.get(urlPath)?.shift() ?? 'ok';
    const file = path.join(root, urlPath);
    if (fault === '500') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
    if (fault === 'hang-up') return void req.socket.destroy();
    if (fault === '404' || !file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
    const data = fs.readFileSync(file);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) });
    if (fault === 'truncate') {
      res.write(data.subarray(0, Math.floor(data.length / 2)), () => req.socket.destroy());
      return;
    }
    res.end(data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * A PEP 503 "simple" package index on 127.0.0.1 serving the wheels in
 * `wheels`, like a studio's private index: with `auth`, every request needs
 * HTTP basic auth with those credentials (401 otherwise). Records the
 * Authorization outcomes so a test can tell the credentials were really used.
 */
export async function serveIndex(wheels: string, auth?: { user: string; password: string }): Promise<{
  url: string;
  seen: { authorized: number; refused: number };
  close(): Promise<void>;
}> {
  const http = await import('node:http');
  const fs = await import('node:fs');
  const crypto = await import('node:crypto');
  const seen = { authorized: 0, refused: 0 };
  const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');
  const expected = auth && `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    if (expected) {
      if (req.headers.authorization !== expected) {
        seen.refused++;
        return void res.writeHead(401, { 'www-authenticate': 'Basic realm="studio"', 'content-type': 'text/plain' }).end('Unauthorized');
      }
      seen.authorized++;
    }
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const files = fs.readdirSync(wheels).filter((f) => f.endsWith('.whl'));
    const project = /^\/simple\/([^/]+)\/?$/.exec(urlPath)?.[1];
    if (project) {
      const matching = files.filter((f) => normalize(f.split('-')[0]) === normalize(project));
      if (matching.length === 0) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      const links = matching.map((f) => {
        const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(wheels, f))).digest('hex');
        return `<a href="/files/${f}#sha256=${sha}">${f}</a><br/>`;
      });
      return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html><body>${links.join('\n')}</body></html>`);
    }
    const file = /^\/files\/([^/]+\.whl)$/.exec(urlPath)?.[1];
    if (file && files.includes(file)) {
      const data = fs.readFileSync(path.join(wheels, file));
      return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) }).end(data);
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A finished environment's manifest for publisher tests (name "tool", CPython 3.12.1), with these packages. */
export function fakeManifest(version: string, packages: Array<[string, string]> = []): EnvironmentManifest {
  return {
    schemaVersion: 1,
    name: 'tool',
    version,
    platform: 'linux-x64',
    python: { implementation: 'cpython', version: '3.12.1', source: { kind: 'installed' } },
    entryPoints: { python: 'bin/python', scriptsDir: 'bin', sitePackages: 'lib/python3.12/site-packages' },
    packages: packages.map(([name, v]) => ({ name, version: v })),
  };
}
