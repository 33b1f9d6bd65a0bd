export type Lookup = { found: true; value: unknown } | { found: false };

/**
 * Salt's `traverse_dict_and_list`: `a:b:0` walks maps by key and lists by index. Own properties
 * only, so `constructor` or `__proto__` never resolves to something the grains do not hold.
 */
export function lookupNested(root: unknown, key: string, delimiter = ':'): Lookup {
  let node: unknown = root;
  for (const part of key.split(delimiter)) {
    if (Array.isArray(node)) {
      if (!/^\d+$/.test(part)) return { found: false };
      const index = Number(part);
      if (index >= node.length) return { found: false };
      node = node[index];
    } else if (node !== null && typeof node === 'object' && Object.hasOwn(node, part)) {
      node = (node as Record<string, unknown>)[part];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: node };
}
