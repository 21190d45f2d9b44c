import { DirectoryPublisher } from './directory';
import { Publisher } from './publisher';

export function getPublisher(depot: string): Publisher {
  return new DirectoryPublisher(depot);
}

export * from './publisher';
export { DirectoryPublisher, pointCurrent, readCurrentVersion, CURRENT, CURRENT_FILE } from './directory';
export { resolveDepot } from './depot';
