import * as path from 'node:path';
import { EnvironmentManifest, MANIFEST_FILE } from '../environment/manifest';
import { PydepotError } from '../errors';

export interface PublishRequest {
  /** The built environment folder (the install stage's output). */
  buildPath: string;
  manifest: EnvironmentManifest;
  log: (message: string) => void;
  /**
   * The checks a version must pass (smoke checks, relocation audit), run on
   * the version as published (its folder in the depot, the tree about to be
   * committed, the archive unpacked) before it becomes current. When they
   * throw, current stays where it was and the error says which check failed.
   */
  gate?: (tree: string) => Promise<void>;
  /**
   * Layout "shared": puts the environment's runtime tree where its manifest
   * says (the build's store), fetching or rebuilding it. Called only when the
   * depot lacks that runtime: publishing to a depot that has it needs no
   * local interpreter at all (a fresh clone served from a remote cache).
   */
  provideRuntime?: () => Promise<unknown>;
  /**
   * Layout "shared", when the build's store lacks the runtime too (a fresh
   * clone): put its tree, fetched from where other machines share it and
   * checked against its content hash, into `dir` (which must not exist; a
   * folder of the depot's filesystem), so it is written once, where it is
   * needed. False when it cannot (no remote cache, not there): the
   * publisher falls back to provideRuntime.
   */
  fetchRuntimeTo?: (dir: string) => Promise<boolean>;
}

/** A local, readable tree of a published version (its depot folder, a checkout, an unpacked archive). */
export interface LocalTree {
  version: string;
  path: string;
  /** Remove whatever was made to hand the tree out (a checkout, an extraction). */
  dispose(): Promise<void>;
}

export interface RollbackRequest {
  name: string;
  /** The version to make current; default: the one before the current one. */
  to?: string;
  log: (message: string) => void;
}

export interface PublishResult {
  version: string;
  /** Where users run it from (a folder, a repository URL + tag, an archive). */
  location: string;
  /** False when the depot already held this exact version. */
  copied: boolean;
  /** True when `current` was moved to this version. */
  currentChanged: boolean;
  /** Bytes of file content written to the depot. */
  bytesWritten: number;
  /** Files reused from the previous version (hard links) and files written. */
  filesLinked: number;
  filesCopied: number;
  /** Versions removed by the retention policy. */
  removed: string[];
}

/**
 * A place environments are published to: a directory (a network share, the
 * default), a git repository, archives. Perforce (or any other store) is one
 * more implementation of this interface, returned by `getPublisher`; the
 * executors never change (docs/PUBLISHING.md).
 */
export interface Publisher {
  readonly kind: string;
  publish(request: PublishRequest): Promise<PublishResult>;
  /** Make an earlier version current again. */
  rollback(request: RollbackRequest): Promise<PublishResult>;
  /** A local tree of a published version (default: the current one), for checks; never changes the depot. */
  checkout(name: string, version?: string): Promise<LocalTree>;
}

/** Run a publish gate, turning its failure into an error that says nothing became current. */
export async function passGate(request: PublishRequest, tree: string, name: string, version: string, current: string | undefined): Promise<void> {
  if (!request.gate) return;
  request.log(`checking ${name} ${version} before making it current`);
  try {
    await request.gate(tree);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new PydepotError(`${name} ${version} failed its checks; current ${current ? `still points at ${current}` : 'was not created'}:\n${detail}`, {
      path: tree,
      hint: (error as PydepotError).hint ?? 'fix the environment or its "verify" checks, then publish again',
    });
  }
}

/** Every publisher's first check: the build finished (its manifest has a name and a version). */
export function assertFinished(request: PublishRequest): asserts request is PublishRequest & { manifest: EnvironmentManifest & { name: string; version: string } } {
  if (!request.manifest.version || !request.manifest.name) {
    throw new PydepotError(`${path.join(request.buildPath, MANIFEST_FILE)} has no version: the build did not finish`, { hint: 'run the install target again' });
  }
}

/**
 * Publishers that carry each environment whole (git, archive) cannot carry a
 * shared runtime beside it: refuse an environment built in the shared layout
 * (the spec makes git and archive environments self-contained; this catches a
 * `to` given only in the publish target's options).
 */
export function assertSelfContained(request: PublishRequest, kind: string): void {
  const runtime = request.manifest.runtime;
  if (!runtime) return;
  throw new PydepotError(`${request.manifest.name} was built in the shared layout (runtime ${runtime.id}), which the ${kind} publisher cannot carry`, {
    path: path.join(request.buildPath, MANIFEST_FILE),
    hint: `set "publish": {"to": "${kind}"} in its environment.json (its environment is then built self-contained), or "layout": "self-contained"`,
  });
}
