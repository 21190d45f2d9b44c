export interface VerifyExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  depot?: string;
  audit?: boolean;
}
