export interface VerifyExecutorSchema {
  environment?: string;
  buildDir?: string;
  depot?: string;
  to?: 'directory' | 'git' | 'archive';
  branch?: string;
  formats?: Array<'tar.zst' | 'zip'>;
  audit?: boolean;
  runtime?: string;
}
