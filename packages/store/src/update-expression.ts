export interface ExpressionParts {
  readonly expression: string;
  readonly names?: Record<string, string>;
  readonly values?: Record<string, unknown>;
}

/**
 * Builds an UpdateExpression from a change set: each key is an attribute path ('a' or 'a.b' for a
 * field of a map), a value of undefined REMOVEs it. Placeholders start with #u/:u so they cannot
 * collide with those of a condition. `appends` adds items at the end of a list attribute (made
 * when it is missing), in the same request.
 */
export function updateExpression(
  changes: Readonly<Record<string, unknown>>,
  appends: Readonly<Record<string, readonly unknown[]>> = {},
): ExpressionParts {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const placeholders = new Map<string, string>();
  const nameOf = (segment: string) => {
    let placeholder = placeholders.get(segment);
    if (placeholder === undefined) {
      placeholder = `#u${placeholders.size}`;
      placeholders.set(segment, placeholder);
      names[placeholder] = segment;
    }
    return placeholder;
  };
  const sets: string[] = [];
  const removes: string[] = [];
  for (const [path, value] of Object.entries(changes)) {
    const target = path.split('.').map(nameOf).join('.');
    if (value === undefined) {
      removes.push(target);
    } else {
      const placeholder = `:u${sets.length}`;
      values[placeholder] = value;
      sets.push(`${target} = ${placeholder}`);
    }
  }
  for (const [path, items] of Object.entries(appends)) {
    const target = path.split('.').map(nameOf).join('.');
    const placeholder = `:u${sets.length}`;
    values[placeholder] = [...items];
    values[`${placeholder}e`] = [];
    sets.push(`${target} = list_append(if_not_exists(${target}, ${placeholder}e), ${placeholder})`);
  }
  const clauses = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''];
  return { expression: clauses.filter(Boolean).join(' '), names, values };
}
