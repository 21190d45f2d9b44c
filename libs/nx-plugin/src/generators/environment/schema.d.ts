export interface EnvironmentGeneratorSchema {
  name: string;
  python?: string | number;
  base?: string;
  packages?: string | number;
  installer?: 'pip' | 'uv';
  description?: string;
}
