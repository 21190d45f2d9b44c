export interface RuntimeExecutorSchema {
  /** The platform this target is for (set by the inference plugin); default: the build agent's. */
  platform?: 'linux' | 'windows';
  python: string | Record<string, unknown>;
  includeStdlibTests?: boolean;
  outputPath?: string;
}
