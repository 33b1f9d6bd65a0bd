/**
 * Freezes a value and everything under it, so a snapshot handed to one caller cannot be changed
 * under another. Only plain objects and arrays are walked: grains are JSON-shaped.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
