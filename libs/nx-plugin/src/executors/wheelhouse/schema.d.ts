export interface WheelhouseExecutorSchema {
  /** The platform this target is for (set by the inference plugin); default: the build agent's. */
  platform?: 'linux' | 'windows';
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  outputPath?: string;
  runtime?: string;
}
