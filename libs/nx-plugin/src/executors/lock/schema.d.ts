export interface LockExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  runtime?: string;
}
