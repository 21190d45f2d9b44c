export interface BuildWheelExecutorSchema {
  outputPath?: string;
  python?: string;
}
