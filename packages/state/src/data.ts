/** Plain-data helpers shared by templates, pillar and states (no I/O). */

export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Salt's colon-delimited lookup (`pillar.get('apache:port')`); list items by index. */
export function traverse(data: unknown, key: string, fallback: unknown, delimiter = ':'): unknown {
  let current = data;
  for (const part of key.split(delimiter)) {
    if (Array.isArray(current) && /^\d+$/.test(part)) current = current[Number(part)];
    else if (isMapping(current) && Object.hasOwn(current, part)) current = current[part];
    else return fallback;
  }
  return current === undefined ? fallback : current;
}

/**
 * Salt's pillar merge (`pillar_source_merging_strategy: smart`, lists not merged): mappings merge
 * key by key, recursively; anything else from `override` replaces what was there. Returns new
 * objects; the inputs are not modified.
 */
export function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (key === '__proto__') continue;
    const existing = merged[key];
    merged[key] = isMapping(existing) && isMapping(value) ? deepMerge(existing, value) : value;
  }
  return merged;
}
