export interface PublishExecutorSchema {
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  to?: 'directory' | 'git' | 'archive';
  depot?: string;
  keep?: number;
  branch?: string;
  lfs?: boolean;
  formats?: Array<'tar.zst' | 'zip'>;
  audit?: boolean;
}
