export interface EnvironmentGeneratorSchema {
  name: string;
  python?: string;
  packages?: string;
  installer?: 'pip' | 'uv';
  description?: string;
}
