import { PydepotError } from '../errors';
import { INSTALLERS, InstallerName, quotedList } from '../model/registry';
import { Installer } from './installer';
import { PipInstaller } from './pip';
import { UvInstaller } from './uv';

/** The installers, by the names model/registry.ts declares (TypeScript checks the table is complete). */
const INSTALLER_FACTORIES: Record<InstallerName, () => Installer> = {
  pip: () => new PipInstaller(),
  uv: () => new UvInstaller(),
};

/** The one place an installer is chosen: executors never branch on it. */
export function getInstaller(name = 'pip'): Installer {
  const factory = (INSTALLER_FACTORIES as Record<string, (() => Installer) | undefined>)[name];
  if (factory) return factory();
  throw new PydepotError(`"installer" must be ${quotedList(INSTALLERS)}; got "${name}"`, { hint: 'set "installer" in the environment spec or the install target options' });
}

export * from './installer';
export { PipInstaller, pipInstallArgs } from './pip';
export { UvInstaller, uvInstallArgs } from './uv';
export { checkedLock, lockContext, lockEnvironment, lockFingerprint, lockPath, LOCK_FILE as LOCK_FILE_NAME } from './lock';
export type { LockContext } from './lock';
export { downloadWheelhouse, wheelhouseIndex, WHEELHOUSE_ENV } from './wheelhouse';
export { expandIndexCredentials } from './credentials';
