import schema from './environment.schema.json';
import { INSTALLERS, PUBLISHERS, PYTHON_SOURCES } from './registry';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sync } = require('../../../../tools/scripts/sync-schemas.js') as { sync: (check: boolean) => string[] };

describe('extension points, declared once (registry.ts)', () => {
  it('the spec schema allows exactly the registered publishers and installers', () => {
    expect(schema.properties.publish.properties.to.enum).toEqual([...PUBLISHERS]);
    expect(schema.properties.installer.enum).toEqual([...INSTALLERS]);
  });

  it('every object form of "python" is named by a registered source', () => {
    const forms = (schema.properties.python.oneOf as Array<{ required?: string[] }>).filter((f) => f.required).map((f) => f.required![0]);
    expect(forms).toEqual([...PYTHON_SOURCES]);
  });

  it('the executor schemas that mirror the spec are generated from it (node tools/scripts/sync-schemas.js)', () => {
    expect(sync(true)).toEqual([]);
  });
});
