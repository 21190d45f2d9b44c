export interface EnsurepipExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  outputPath?: string;
  delta?: boolean;
}
