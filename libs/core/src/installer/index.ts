import { PipInstaller } from './pip';
import { Installer } from './installer';

export function getInstaller(name = 'pip'): Installer {
  if (name === 'pip') return new PipInstaller();
  throw new Error(`"installer" must be "pip"; got "${name}"`);
}

export * from './installer';
export { PipInstaller, pipInstallArgs } from './pip';
