/**
 * The first key that appears twice in one object of valid JSON text, with
 * its field path and line, or undefined. JSON.parse keeps the last value
 * silently; a spec that says "python" twice is a mistake to name, not to
 * guess at. Call it on text JSON.parse accepted.
 */
export function findDuplicateKey(text: string): { field: string; key: string; line: number } | undefined {
  // One frame per open object or array: the keys seen so far (objects) and the path to it.
  const stack: Array<{ keys?: Set<string>; path: string; index: number }> = [];
  let pendingKey: string | undefined;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const raw = text.slice(i, j + 1);
      i = j;
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      const top = stack[stack.length - 1];
      if (top?.keys && text[k] === ':') {
        const key = JSON.parse(raw) as string;
        if (top.keys.has(key)) return { field: join(top.path, key), key, line };
        top.keys.add(key);
        pendingKey = key;
      }
    } else if (c === '{' || c === '[') {
      const top = stack[stack.length - 1];
      const at = top === undefined ? '' : top.keys ? join(top.path, pendingKey ?? '') : `${top.path}[${top.index}]`;
      stack.push(c === '{' ? { keys: new Set(), path: at, index: 0 } : { path: at, index: 0 });
    } else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top && !top.keys) top.index++;
    }
  }
  return undefined;
}

function join(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}
