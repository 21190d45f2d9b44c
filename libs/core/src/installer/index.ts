import { PydepotError } from '../errors';
import { Installer } from './installer';
import { PipInstaller } from './pip';
import { UvInstaller } from './uv';

export const INSTALLERS = ['pip', 'uv'] as const;
export type InstallerName = (typeof INSTALLERS)[number];

/** The one place an installer is chosen: executors never branch on it. */
export function getInstaller(name = 'pip'): Installer {
  if (name === 'pip') return new PipInstaller();
  if (name === 'uv') return new UvInstaller();
  throw new PydepotError(`"installer" must be "pip" or "uv"; got "${name}"`, { hint: 'set "installer" in the environment spec or the install target options' });
}

export * from './installer';
export { PipInstaller, pipInstallArgs } from './pip';
export { UvInstaller, uvInstallArgs } from './uv';
export { checkedLock, lockContext, lockEnvironment, lockFingerprint, lockPath, LOCK_FILE as LOCK_FILE_NAME } from './lock';
export type { LockContext } from './lock';
export { downloadWheelhouse, wheelhouseIndex, WHEELHOUSE_ENV } from './wheelhouse';
export { expandIndexCredentials } from './credentials';
