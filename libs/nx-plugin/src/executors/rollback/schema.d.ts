export interface RollbackExecutorSchema {
  environment?: string;
  buildDir?: string;
  to?: string;
  publisher?: 'directory' | 'git' | 'archive';
  depot?: string;
  branch?: string;
  formats?: Array<'tar.zst' | 'zip'>;
}
