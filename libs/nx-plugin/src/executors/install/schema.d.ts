export interface InstallExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  outputPath?: string;
  delta?: boolean;
  installer?: 'pip' | 'uv';
  runtime?: string;
}
