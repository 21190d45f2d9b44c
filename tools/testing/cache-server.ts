import { ChildProcess, spawn } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import * as path from 'node:path';

export const CACHE_SERVER = path.resolve(__dirname, '../cache-server/server.js');

export interface RunningCacheServer {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves when a line matching `pattern` has been printed; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Start tools/cache-server/server.js (the real command line) on a free port of 127.0.0.1. */
export function startCacheServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningCacheServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CACHE_SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    const waiters: Array<{ pattern: RegExp; done(line: string): void }> = [];
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const onData = (d: Buffer) => {
      out += d;
      for (const w of [...waiters]) {
        const m = w.pattern.exec(out);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.done(m[0]);
        }
      }
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && !started) {
        started = true;
        resolve({
          url: m[1],
          child,
          output: () => out,
          waitFor: (pattern, timeoutMs = 60_000) => new Promise((done, fail) => {
            const hit = pattern.exec(out);
            if (hit) return done(hit[0]);
            const timer = setTimeout(() => fail(new Error(`the cache server printed no ${pattern} within ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs);
            waiters.push({ pattern, done: (line) => (clearTimeout(timer), done(line)) });
          }),
          stop: async (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await exited;
          },
        });
      }
    };
    let started = false;
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      if (!started) reject(new Error(`cache server exited ${code}: ${out}`));
    });
  });
}

/** Ports of 127.0.0.1 that were free a moment ago (for servers that cannot take port 0, or a port nothing listens on). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * The cache server in this process (createCacheServer over any store), checked
 * and listening on a free port of 127.0.0.1: for tests that reach inside it.
 */
export async function listenCacheServer(options: object): Promise<{ url: string; close(): Promise<void> }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createCacheServer } = require('../cache-server/server.js');
  const server = createCacheServer({ quiet: true, ...options }) as Server & { store: { check(): Promise<void> } };
  await server.store.check();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { url, close };
}
