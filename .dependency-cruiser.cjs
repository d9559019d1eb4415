/**
 * Import rules of src/ (npm run lint:imports; docs/architecture.md §Layers).
 * Layers, lowest first; a module imports only its own layer and the ones below:
 *   base (errors.ts, config.ts, logger.ts, collections.ts, directories.ts) < db < types < auth < metadata < engine, jobs < platform
 *   < features < http, ops < composition root (rocket.ts, main.ts, cli)
 * `expr` and `outbound` stand alone: they import nothing of the project's, and any layer may use them.
 * Features do not import one another; they meet in the core's extension points.
 */
const LAYERS = [
  { name: 'base', path: '^src/(errors|config|logger|collections|directories)\\.ts$' },
  { name: 'db', path: '^src/db/' },
  { name: 'types', path: '^src/types/' },
  { name: 'auth', path: '^src/auth/' },
  { name: 'metadata', path: '^src/metadata/' },
  { name: 'engine', path: '^src/(engine|jobs)/' },
  { name: 'platform', path: '^src/platform/' },
  { name: 'features', path: '^src/(files|webhooks|workflows|history|realtime|openapi)/' },
  { name: 'http', path: '^src/(http|ops)/' },
  { name: 'root', path: '^src/(rocket|main)\\.ts$|^src/cli/' },
];
const STANDALONE = '^src/(expr|outbound)/';
const FEATURES = ['files', 'webhooks', 'workflows', 'history', 'realtime', 'openapi'];

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.name}`,
  comment: `${layer.name} sits below ${LAYERS.slice(i + 1).map((l) => l.name).join(', ')} and must not import them`,
  severity: 'error',
  from: { path: layer.path },
  to: { path: LAYERS.slice(i + 1).map((l) => `(${l.path})`).join('|') },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      // Type imports count too: contracts that refer to each other are declared in one module (engine/context.ts).
      comment: 'No import cycle among src/ files, type imports included',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...upward,
    {
      name: 'standalone',
      comment: 'expr and outbound import nothing of the project outside themselves',
      severity: 'error',
      from: { path: STANDALONE },
      to: { path: '^src/', pathNot: STANDALONE },
    },
    ...FEATURES.map((feature) => ({
      name: `feature-${feature}`,
      comment: 'A feature does not import another feature; they plug into the core through rocket.ts',
      severity: 'error',
      from: { path: `^src/${feature}/` },
      to: { path: `^src/(${FEATURES.filter((f) => f !== feature).join('|')})/` },
    })),
    {
      name: 'not-to-unresolvable',
      comment: 'Every relative import resolves to a file',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
