/**
 * A place a CPython distribution comes from. Each source turns a request into
 * a prefix on disk; everything after (relocation, ensurepip, …) is the same
 * for all of them. New sources (python-build-standalone by version, MSI,
 * NuGet) implement this and register in `resolveDistribution`; executors
 * never see which one is used.
 */
export interface DistributionSource {
  readonly kind: string;
  /** One line for logs and the manifest. */
  describe(): string;
  /**
   * Everything that decides the unpacked bytes, for cache keys: an archive's
   * sha256, an installed interpreter's version, path and binary fingerprint.
   * Cheap and side-effect free: it runs whenever Nx hashes a task.
   */
  identity(): string;
  /** Build-machine paths the unpacked tree must never mention (checked by the audit). */
  originPaths(): string[];
  /** Put a CPython prefix into `dest`, which must not exist yet. */
  unpack(dest: string, context: UnpackContext): Promise<UnpackedPython>;
}

export interface UnpackContext {
  cacheDir: string;
  includeStdlibTests: boolean;
  /** Never download (PYDEPOT_OFFLINE): use the cache and local files only, and say what is missing. */
  offline?: boolean;
  log: (message: string) => void;
}

export interface UnpackedPython {
  version: string;
  /** Layout of the unpacked prefix; a Windows prefix can be unpacked on Linux but built only on Windows. */
  os?: 'posix' | 'windows';
  /** The prefix the interpreter was configured for: RUNPATHs and sysconfig under it are made relative. */
  originalPrefix?: string;
  /**
   * Also overwrite constant strings naming `originalPrefix` in binaries (true
   * when that prefix is a path of this machine, as for an installed CPython).
   */
  scrubBinaries?: boolean;
  source: { kind: string; [key: string]: unknown };
}
