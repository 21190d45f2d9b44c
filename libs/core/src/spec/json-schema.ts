/**
 * A small JSON-schema (draft-07 subset) validator, so each schema.json stays the
 * single source of truth for what a file may contain. It supports exactly what
 * our schemas use: type, properties, required, additionalProperties, enum,
 * pattern, minLength, minimum, items, minItems, uniqueItems, oneOf and local $ref.
 */
export interface SchemaIssue {
  /** JSON path of the offending field, e.g. `python.sha256` or `packages[2]`. */
  field: string;
  message: string;
}

type Schema = Record<string, any>;

export function validateJson(value: unknown, schema: Schema): SchemaIssue[] {
  return check(value, schema, schema, '');
}

function check(value: unknown, schema: Schema, root: Schema, at: string): SchemaIssue[] {
  if (schema.$ref) return check(value, resolveRef(root, schema.$ref), root, at);
  const field = at || '(root)';
  if (schema.oneOf) {
    const results = (schema.oneOf as Schema[]).map((s) => check(value, s, root, at));
    const passing = results.filter((r) => r.length === 0).length;
    if (passing === 1) return [];
    if (passing > 1) return [{ field, message: 'matches more than one allowed form' }];
    // Report the alternative that got furthest (fewest issues, same type), else a summary.
    // Report the alternative the value was evidently meant as: same type, and for
    // objects, all of its required fields present (e.g. "archive" + "sha256").
    const alternatives = schema.oneOf as Schema[];
    const meant = results.filter((_, i) => typeMatches(value, alternatives[i], root) && hasRequired(value, alternatives[i], root));
    if (meant.length === 1) return meant[0];
    const forms = (schema.oneOf as Schema[]).map((s) => describe(s, root)).join(' or ');
    return [{ field, message: `must be ${forms}` }];
  }
  if (schema.type && !typeMatches(value, schema, root)) {
    return [{ field, message: `must be ${article(schema.type)}, got ${jsonType(value)}` }];
  }
  const issues: SchemaIssue[] = [];
  if (schema.enum && !schema.enum.includes(value)) {
    issues.push({ field, message: `must be one of ${schema.enum.map((v: unknown) => JSON.stringify(v)).join(', ')}; got ${JSON.stringify(value)}` });
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) issues.push({ field, message: 'must not be empty' });
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) {
      issues.push({ field, message: `${JSON.stringify(value)} does not match ${schema.pattern}${schema.description ? ` (${schema.description})` : ''}` });
    }
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) issues.push({ field, message: `must be at least ${schema.minimum}, got ${value}` });
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) issues.push({ field, message: `needs at least ${schema.minItems} item(s)` });
    if (schema.uniqueItems) {
      const seen = new Set<string>();
      value.forEach((v, i) => {
        const key = JSON.stringify(v);
        if (seen.has(key)) issues.push({ field: `${at}[${i}]`, message: `duplicates an earlier item ${key}` });
        seen.add(key);
      });
    }
    if (schema.items) value.forEach((v, i) => issues.push(...check(v, schema.items, root, `${at}[${i}]`)));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (!(key in obj)) issues.push({ field: join(at, key), message: 'is required' });
    }
    const props: Schema = schema.properties ?? {};
    for (const [key, v] of Object.entries(obj)) {
      if (props[key]) issues.push(...check(v, props[key], root, join(at, key)));
      else if (schema.additionalProperties === false) {
        const known = Object.keys(props).filter((k) => k !== '$schema');
        issues.push({ field: join(at, key), message: `is not a known field (known: ${known.join(', ')})` });
      }
    }
  }
  return issues;
}

function typeMatches(value: unknown, schema: Schema, root: Schema): boolean {
  if (schema.$ref) return typeMatches(value, resolveRef(root, schema.$ref), root);
  if (!schema.type) return true;
  const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.some((t) => (t === 'integer' ? Number.isInteger(value) : jsonType(value) === t));
}

function hasRequired(value: unknown, schema: Schema, root: Schema): boolean {
  if (schema.$ref) return hasRequired(value, resolveRef(root, schema.$ref), root);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return true;
  return (schema.required ?? []).every((key: string) => key in (value as object));
}

function describe(schema: Schema, root: Schema): string {
  if (schema.$ref) return describe(resolveRef(root, schema.$ref), root);
  if (schema.title) return `${article(schema.type)} (${schema.title}${schema.required ? ` with ${schema.required.join(', ')}` : ''})`;
  return article(schema.type ?? 'value');
}

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .reduce((node: Schema, key) => node[key], root);
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function join(at: string, key: string): string {
  return at ? `${at}.${key}` : key;
}
