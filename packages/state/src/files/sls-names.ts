/**
 * SLS names: `web.nginx` is `web/nginx.sls` or `web/nginx/init.sls` in the roots; `.ssl` in an
 * include is relative to the including SLS, Salt's way.
 */

const SLS_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

export function isValidSlsName(name: string): boolean {
  return SLS_NAME.test(name) && !name.split('.').some((part) => part === '') && name.length <= 512;
}

/** The files an SLS name may live in, in the order Salt tries them. */
export function slsCandidates(name: string): [string, string] {
  const path = name.replace(/\./g, '/');
  return [`${path}.sls`, `${path}/init.sls`];
}

/** What templates see as `slspath` and `tpldir`: the directory of the SLS file. */
export function slsDirectory(file: string): string {
  const slash = file.lastIndexOf('/');
  return slash === -1 ? '' : file.slice(0, slash);
}

/**
 * Resolves an include as written in SLS `from` (which lives in `file`): `.ssl` is a sibling,
 * `..common` goes one level up, anything else is absolute. Undefined when it climbs above the root.
 */
export function resolveInclude(include: string, from: string, file: string): string | undefined {
  if (!include.startsWith('.')) return include;
  const dots = /^\.+/.exec(include)?.[0].length ?? 0;
  const rest = include.slice(dots);
  // The package of `web/init.sls` is `web`; of `web/nginx.sls` it is `web` too.
  const base = file.endsWith('/init.sls') || file === 'init.sls' ? from.split('.') : from.split('.').slice(0, -1);
  const levelsUp = dots - 1;
  if (levelsUp > base.length) return undefined;
  const parts = [...base.slice(0, base.length - levelsUp), ...(rest === '' ? [] : [rest])];
  return parts.length === 0 ? undefined : parts.join('.');
}
