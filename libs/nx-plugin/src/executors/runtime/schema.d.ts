export interface RuntimeExecutorSchema {
  python: string | Record<string, unknown>;
  includeStdlibTests?: boolean;
  outputPath?: string;
}
