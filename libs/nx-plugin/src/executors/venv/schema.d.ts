export interface VenvExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  outputPath?: string;
  delta?: boolean;
  runtime?: string;
}
