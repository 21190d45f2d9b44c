export interface UnpackExecutorSchema {
  environment?: string;
  buildDir?: string;
  outputPath?: string;
}
