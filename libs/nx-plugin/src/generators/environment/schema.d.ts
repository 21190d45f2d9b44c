export interface EnvironmentGeneratorSchema {
  name: string;
  python?: string;
  base?: string;
  packages?: string;
  installer?: 'pip' | 'uv';
  description?: string;
}
