// The import rules of the packages, checked by `npm run lint` (lint:imports). Each package's README
// says what it may import; this table is those sentences, and the lint fails on any other import.
// Tests under test/ and bench/ may import any package: they start and drive the real programs.

/** The Phoenix packages each package may import (besides itself and libraries). */
const MAY_IMPORT = {
  protocol: [],
  state: ['protocol'],
  store: ['protocol'],
  api: ['protocol', 'store'],
  dashboard: ['protocol', 'api'],
  devstack: ['protocol', 'store'],
  master: ['protocol', 'store', 'state', 'api', 'dashboard'],
  minion: ['protocol', 'store', 'state'],
  cli: ['protocol', 'store', 'state', 'api', 'devstack'],
};
const PACKAGES = Object.keys(MAY_IMPORT);

/** A module of one of these packages: by its path (resolved) or by its name (when it did not resolve). */
function anyOf(names) {
  const list = names.join('|');
  return `(^|/)packages/(${list})/|^@phoenix/(${list})(/|$)`;
}

const packageRules = PACKAGES.map((name) => {
  const others = PACKAGES.filter((other) => other !== name && !MAY_IMPORT[name].includes(other));
  const allowed = MAY_IMPORT[name].length === 0 ? 'no other package' : MAY_IMPORT[name].join(', ');
  return {
    name: `${name}-imports`,
    comment: `${name} may import ${allowed}`,
    severity: 'error',
    from: { path: `^packages/${name}/` },
    to: { path: anyOf(others) },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    ...packageRules,
    {
      name: 'master-uses-dashboard-assets-only',
      comment: "the master serves the dashboard's built assets (loadDashboard) and uses nothing else of it",
      severity: 'error',
      from: { path: '^packages/master/' },
      to: {
        path: anyOf(['dashboard']),
        pathNot: ['^@phoenix/dashboard$', '(^|/)packages/dashboard/(dist/)?src/index\\.(d\\.ts|ts|js)$'],
      },
    },
    {
      name: 'no-circular',
      comment: 'no module imports itself through others',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'folders depend one way: no folder imports itself through others',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '/dist/'] },
    // Type-only imports count: a cycle of types is a cycle of concepts.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'default'],
    },
  },
};
