export interface PublishExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  depot?: string;
}
