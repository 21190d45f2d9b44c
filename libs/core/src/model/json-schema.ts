import type { default as Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { rememberSync } from '../fs/atomic';

/**
 * JSON-schema validation with Ajv (draft-07), so each schema.json stays the
 * single source of truth for what a file may contain; this module only turns
 * Ajv's errors into messages a person acts on: the field as a path
 * (`python.sha256`, `packages[2]`), what is wrong, and for a `oneOf` (the
 * `python` field's forms) the errors of the form the value was evidently
 * meant as, not of every alternative.
 */
export interface SchemaIssue {
  /** JSON path of the offending field, e.g. `python.sha256` or `packages[2]`. */
  field: string;
  message: string;
}

type Schema = Record<string, any>;

// Ajv loads (~30 ms) on the first compilation, not with every module that imports this one (the plugin's hooks).
let ajv: Ajv | undefined;
const compiled = new WeakMap<Schema, ValidateFunction>();
const OPTIONS = { allErrors: true, strict: false, verbose: true, code: { source: true } } as const;
/**
 * Compiled validators, as Ajv's standalone modules, beside the transpiled
 * sources (bin/register.js) in the workspace's node_modules/.cache: every
 * executor process validates the spec, and compiling its schema costs
 * 60–100 ms where loading the compiled module costs ~1 ms. Keyed by the
 * schema, Ajv's version and the options; written atomically.
 */
const STANDALONE_DIR = path.resolve(__dirname, '../../../../node_modules/.cache/pydepot-ajv-v1');

function validator(schema: Schema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    // Compiled without its $id, so one schema object may be compiled once per root it is checked against.
    const { $id: _id, $schema: _s, ...rest } = schema;
    fn = compileCached(rest);
    compiled.set(schema, fn);
  }
  return fn;
}

function compileCached(schema: Schema): ValidateFunction {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const version = (require('ajv/package.json') as { version: string }).version;
  const key = createHash('sha256').update(JSON.stringify([version, OPTIONS, schema])).digest('hex').slice(0, 32);
  const file = path.join(STANDALONE_DIR, `${key}.js`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as ValidateFunction;
  } catch {
    // not compiled yet (or no node_modules/.cache here)
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ajv ??= new (require('ajv').default as typeof Ajv)(OPTIONS);
  const fn = ajv.compile(schema);
  // A read-only node_modules: compiled every time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  rememberSync(file, (require('ajv/dist/standalone').default as (a: Ajv, f: ValidateFunction) => string)(ajv, fn));
  return fn;
}

export function validateJson(value: unknown, schema: Schema): SchemaIssue[] {
  return check(value, schema, schema);
}

function check(value: unknown, schema: Schema, root: Schema): SchemaIssue[] {
  const validate = validator(schema === root ? root : { ...schema, definitions: root.definitions });
  if (validate(value)) return [];
  let errors = [...(validate.errors ?? [])];
  const issues: SchemaIssue[] = [];
  // A oneOf failure: report the alternative the value was meant as, or the forms it may take.
  for (const failed of errors.filter((e) => e.keyword === 'oneOf')) {
    const at = failed.instancePath;
    errors = errors.filter((e) => !(e.instancePath === at || e.instancePath.startsWith(`${at}/`)));
    const alternatives = (failed.schema as Schema[]).map((s) => deref(s, root));
    const meant = alternatives.filter((s) => typeMatches(failed.data, s) && hasRequired(failed.data, s));
    if (meant.length === 1) {
      for (const issue of check(failed.data, meant[0], root)) issues.push({ field: joinPath(fieldOf(at), issue.field === '(root)' ? '' : issue.field) || '(root)', message: issue.message });
    } else {
      issues.push({ field: fieldOf(at) || '(root)', message: `must be ${alternatives.map(describe).join(' or ')}` });
    }
  }
  // A value of the wrong type: that alone is the problem with it.
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  errors = errors.filter((e) => e.keyword === 'type' || !wrongType.has(e.instancePath));
  for (const e of errors) issues.push(issueOf(e));
  return issues;
}

function issueOf(e: ErrorObject): SchemaIssue {
  const field = fieldOf(e.instancePath);
  const parent = (e.parentSchema ?? {}) as Schema;
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'type':
      return { field: field || '(root)', message: `must be ${article(String(p.type).split(',')[0])}, got ${jsonType(e.data)}` };
    case 'enum':
      return { field, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}; got ${JSON.stringify(e.data)}` };
    case 'minLength':
      return { field, message: 'must not be empty' };
    case 'pattern':
      return { field, message: `${JSON.stringify(e.data)} does not match ${p.pattern}${parent.description ? ` (${parent.description})` : ''}` };
    case 'minimum':
      return { field, message: `must be at least ${p.limit}, got ${e.data}` };
    case 'minItems':
      return { field, message: `needs at least ${p.limit} item(s)` };
    case 'uniqueItems':
      return { field: `${field}[${p.i}]`, message: `duplicates an earlier item ${JSON.stringify((e.data as unknown[])[p.i])}` };
    case 'required':
      return { field: joinPath(field, p.missingProperty), message: 'is required' };
    case 'additionalProperties': {
      const known = Object.keys(parent.properties ?? {}).filter((k) => k !== '$schema');
      return { field: joinPath(field, p.additionalProperty), message: `is not a known field (known: ${known.join(', ')})` };
    }
    default:
      return { field: field || '(root)', message: e.message ?? `fails "${e.keyword}"` };
  }
}

/** "/verify/imports/1" → "verify.imports[1]". */
function fieldOf(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : joinPath(acc, part)), '');
}

function deref(schema: Schema, root: Schema): Schema {
  if (!schema.$ref) return schema;
  if (!String(schema.$ref).startsWith('#/')) throw new Error(`unsupported $ref ${schema.$ref}`);
  return deref(
    String(schema.$ref)
      .slice(2)
      .split('/')
      .reduce((node: Schema, key) => node[key], root),
    root,
  );
}

function typeMatches(value: unknown, schema: Schema): boolean {
  if (!schema.type) return true;
  const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.some((t) => (t === 'integer' ? Number.isInteger(value) : jsonType(value) === t));
}

function hasRequired(value: unknown, schema: Schema): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return true;
  return (schema.required ?? []).every((key: string) => key in (value as object));
}

function describe(schema: Schema): string {
  if (schema.title) return `${article(schema.type)} (${schema.title}${schema.required ? ` with ${schema.required.join(', ')}` : ''})`;
  return article(schema.type ?? 'value');
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function joinPath(at: string, key: string): string {
  if (!key) return at;
  return at ? (key.startsWith('[') ? `${at}${key}` : `${at}.${key}`) : key;
}
