/**
 * Limits on the shape of data that comes from outside — wire messages, API bodies, queue messages,
 * SLS and pillar data, job arguments — checked without recursion and before anything recursive
 * (a schema, JSON.stringify, a DynamoDB marshaller, a template) sees the data. A value nested
 * 200,000 deep is a short message; refused here it costs one pass over its bytes, not a stack.
 */
export interface DataLimits {
  /** Containers (maps, arrays) inside containers: 1 is a flat map. */
  readonly maxDepth: number;
  /** Entries of one map. */
  readonly maxKeys: number;
  /** Elements of one array. */
  readonly maxItems: number;
  /** Bytes (msgpack) or UTF-16 units (a JavaScript value) of one string. */
  readonly maxStringLength: number;
  /** Values of every kind in the whole document. */
  readonly maxValues: number;
}

/** Why a document was refused; a fixed vocabulary, so metrics can count by it. */
export type BoundsReason =
  'too-deep' | 'too-many-keys' | 'too-many-items' | 'string-too-long' | 'too-many-values' | 'malformed';

export interface BoundsViolation {
  readonly reason: BoundsReason;
  readonly message: string;
}

/**
 * Wire messages (msgpack, up to 4 MiB): deep enough for any state return, far too shallow to hurt
 * a stack. A message's own envelope takes two levels (the message map, then e.g. `ret`).
 */
export const WIRE_LIMITS: DataLimits = Object.freeze({
  maxDepth: 64,
  maxKeys: 65_536,
  maxItems: 1_000_000,
  maxStringLength: 4 * 1024 * 1024,
  maxValues: 1_000_000,
});

/**
 * Data an operator or a tree provides that travels inside wire messages later: job arguments,
 * SLS and pillar data. Shallower than the wire, so a job or a pillar always fits in a message.
 */
export const DATA_LIMITS: DataLimits = Object.freeze({
  maxDepth: 32,
  maxKeys: 65_536,
  maxItems: 100_000,
  maxStringLength: 4 * 1024 * 1024,
  maxValues: 500_000,
});

const violation = (reason: BoundsReason, message: string): BoundsViolation => ({ reason, message });

/**
 * Walks the msgpack encoding in `bytes` (headers only, no values built) and reports the first limit
 * it breaks, or undefined when the document is within `limits`. The walk keeps one counter per
 * open container, so its memory is bounded by `maxDepth`. Truncated or invalid encodings are
 * `malformed`, as is a container that claims more elements than there are bytes left.
 */
export function scanMsgpack(bytes: Uint8Array, limits: DataLimits): BoundsViolation | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  // remaining[d]: values still to read in the container open at depth d + 1
  const remaining: number[] = [];
  let pos = 0;
  let values = 0;
  let documents = 0;
  while (pos < end) {
    if (remaining.length === 0 && documents === 1) return violation('malformed', 'bytes after the end of the message');
    const type = bytes[pos] as number;
    pos++;
    let length = -1; // of a string, bin or ext payload
    let count = -1; // elements of a container
    let isMap = false;
    if (type <= 0x7f || type >= 0xe0 || (type >= 0xc0 && type <= 0xc3 && type !== 0xc1)) {
      // fixint, nil, booleans: the byte is the value
    } else if (type >= 0x80 && type <= 0x8f) {
      count = type & 0x0f;
      isMap = true;
    } else if (type >= 0x90 && type <= 0x9f) {
      count = type & 0x0f;
    } else if (type >= 0xa0 && type <= 0xbf) {
      length = type & 0x1f;
    } else {
      const need = HEADER_BYTES[type - 0xc0] ?? -1;
      if (need < 0) return violation('malformed', `byte 0x${type.toString(16)} starts no msgpack value`);
      if (pos + need > end) return violation('malformed', 'the message ends inside a value');
      switch (type) {
        case 0xc4:
        case 0xd9:
          length = view.getUint8(pos);
          break;
        case 0xc5:
        case 0xda:
          length = view.getUint16(pos);
          break;
        case 0xc6:
        case 0xdb:
          length = view.getUint32(pos);
          break;
        case 0xc7:
          length = view.getUint8(pos) + 1; // the ext type byte, then the payload
          break;
        case 0xc8:
          length = view.getUint16(pos) + 1;
          break;
        case 0xc9:
          length = view.getUint32(pos) + 1;
          break;
        case 0xdc:
          count = view.getUint16(pos);
          break;
        case 0xdd:
          count = view.getUint32(pos);
          break;
        case 0xde:
          count = view.getUint16(pos);
          isMap = true;
          break;
        case 0xdf:
          count = view.getUint32(pos);
          isMap = true;
          break;
        default:
          break; // numbers and fixext: the header is the whole value
      }
      pos += need;
      if (type === 0xd9 || type === 0xda || type === 0xdb) {
        if (length > limits.maxStringLength)
          return violation('string-too-long', `a string of ${length} bytes (the limit is ${limits.maxStringLength})`);
      }
    }
    if (++values > limits.maxValues)
      return violation('too-many-values', `more than ${limits.maxValues} values in one message`);
    if (length >= 0) {
      if (type >= 0xa0 && type <= 0xbf && length > limits.maxStringLength)
        return violation('string-too-long', `a string of ${length} bytes (the limit is ${limits.maxStringLength})`);
      if (pos + length > end) return violation('malformed', 'the message ends inside a value');
      pos += length;
    }
    const open = remaining.length - 1;
    if (open >= 0) remaining[open] = (remaining[open] as number) - 1;
    else documents++;
    if (count > 0) {
      if (isMap && count > limits.maxKeys)
        return violation('too-many-keys', `a map of ${count} keys (the limit is ${limits.maxKeys})`);
      if (!isMap && count > limits.maxItems)
        return violation('too-many-items', `an array of ${count} items (the limit is ${limits.maxItems})`);
      const elements = isMap ? count * 2 : count;
      // Every element takes at least one byte: a longer claim is a lie meant to make a decoder allocate.
      if (elements > end - pos) return violation('malformed', `a container claims ${elements} elements in fewer bytes`);
      if (remaining.length + 1 > limits.maxDepth)
        return violation('too-deep', `nested deeper than ${limits.maxDepth} levels`);
      remaining.push(elements);
    } else if (count === 0 && remaining.length + 1 > limits.maxDepth) {
      return violation('too-deep', `nested deeper than ${limits.maxDepth} levels`);
    }
    while (remaining.length > 0 && remaining[remaining.length - 1] === 0) remaining.pop();
  }
  if (remaining.length > 0 || documents === 0) return violation('malformed', 'the message ends inside a value');
  return undefined;
}

/** Header bytes after the type byte, for types 0xc0…0xdf (-1: not a msgpack type). */
const HEADER_BYTES: readonly number[] = [
  0, // c0 nil
  -1, // c1 never used
  0, // c2 false
  0, // c3 true
  1, // c4 bin8
  2, // c5 bin16
  4, // c6 bin32
  1, // c7 ext8
  2, // c8 ext16
  4, // c9 ext32
  4, // ca float32
  8, // cb float64
  1, // cc uint8
  2, // cd uint16
  4, // ce uint32
  8, // cf uint64
  1, // d0 int8
  2, // d1 int16
  4, // d2 int32
  8, // d3 int64
  2, // d4 fixext1 (type + 1)
  3, // d5 fixext2
  5, // d6 fixext4
  9, // d7 fixext8
  17, // d8 fixext16
  1, // d9 str8
  2, // da str16
  4, // db str32
  2, // dc array16
  4, // dd array32
  2, // de map16
  4, // df map32
];

/**
 * The same limits for a value already in memory (JSON.parse and YAML loading are not the danger:
 * what comes after them is). Iterative, with an explicit stack; a cycle is stopped by `maxValues`.
 * Only arrays and plain objects are containers; anything else counts as one value.
 */
export function checkValue(value: unknown, limits: DataLimits): BoundsViolation | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let values = 0;
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (++values > limits.maxValues) return violation('too-many-values', `more than ${limits.maxValues} values`);
    if (typeof current === 'string') {
      if (current.length > limits.maxStringLength)
        return violation(
          'string-too-long',
          `a string of ${current.length} characters (the limit is ${limits.maxStringLength})`,
        );
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const isArray = Array.isArray(current);
    if (!isArray && !isPlainObject(current)) continue;
    if (depth + 1 > limits.maxDepth) return violation('too-deep', `nested deeper than ${limits.maxDepth} levels`);
    if (isArray) {
      if (current.length > limits.maxItems)
        return violation('too-many-items', `an array of ${current.length} items (the limit is ${limits.maxItems})`);
      for (const item of current as unknown[]) stack.push({ value: item, depth: depth + 1 });
    } else {
      const keys = Object.keys(current);
      if (keys.length > limits.maxKeys)
        return violation('too-many-keys', `a map of ${keys.length} keys (the limit is ${limits.maxKeys})`);
      for (const key of keys) {
        if (key.length > limits.maxStringLength)
          return violation(
            'string-too-long',
            `a key of ${key.length} characters (the limit is ${limits.maxStringLength})`,
          );
        stack.push({ value: (current as Record<string, unknown>)[key], depth: depth + 1 });
      }
    }
  }
  return undefined;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
