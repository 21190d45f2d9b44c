export interface WheelhouseExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  outputPath?: string;
  runtime?: string;
}
