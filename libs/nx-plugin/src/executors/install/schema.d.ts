export interface InstallExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  outputPath?: string;
  delta?: boolean;
  installer?: import('@pydepot/core').InstallerName;
  runtime?: string;
}
