export interface PublishExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  to?: 'directory' | 'git' | 'archive';
  depot?: string;
  keep?: number;
  keepDays?: number;
  groupWritable?: boolean;
  branch?: string;
  lfs?: boolean;
  formats?: Array<'tar.zst' | 'zip'>;
  audit?: boolean;
  runtime?: string;
}
