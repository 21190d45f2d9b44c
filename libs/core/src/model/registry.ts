/*
 * The extension points' names, declared once. Each list is the key set of
 * the one table that implements it (TypeScript checks the tables are
 * complete), and libs/core/src/model/registry.spec.ts checks every schema
 * that names them (the spec schema, the executor schemas) against these
 * lists, so a new publisher, installer or Python source is added here, in
 * its implementation and in environment.schema.json; executor schemas are
 * regenerated from the spec schema (`node tools/scripts/sync-schemas.js`).
 *
 *   publishers      publish/index.ts     PUBLISHER_FACTORIES
 *   installers      installer/index.ts   INSTALLER_FACTORIES
 *   Python sources  distribution/index.ts SOURCE_RESOLVERS (and python-request.ts's parse/format)
 */
export const PUBLISHERS = ['directory', 'git', 'archive'] as const;
export type PublisherKind = (typeof PUBLISHERS)[number];

export const INSTALLERS = ['pip', 'uv'] as const;
export type InstallerName = (typeof INSTALLERS)[number];

/** The forms of "python": by version (installed or python-build-standalone), or the key naming the source's file. */
export const PYTHON_SOURCES = ['version', 'archive', 'msi', 'nuget'] as const;
export type PythonSourceKind = (typeof PYTHON_SOURCES)[number];

/** Quoted list for messages: `"pip" or "uv"`, `"directory", "git" or "archive"`. */
export function quotedList(values: readonly string[]): string {
  const q = values.map((v) => `"${v}"`);
  return q.length > 1 ? `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}` : q.join('');
}
