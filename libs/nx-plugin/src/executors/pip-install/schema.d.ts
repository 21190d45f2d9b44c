export interface PipInstallExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  outputPath?: string;
  installer?: 'pip' | 'uv';
}
