/**
 * The shape of the code, checked on every `npm test`: no module may reach
 * itself again through its imports, type-only imports included (a cycle of
 * types is still two parts that cannot be understood, tested or replaced
 * one without the other). Beyond single modules, the parts depend one way:
 * the protocol on nothing of ours; the recorder not on the server; a Room
 * not on the cluster that places it; nothing but the entry point on the
 * Server that wires everything together.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles, type-only ones included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment: 'protocol/ is shared by the server and the web app: it imports neither.',
      from: { path: '^protocol/' },
      to: { path: '^(sfu|recorder|web|config)/' },
    },
    {
      name: 'recorder-not-on-server',
      severity: 'error',
      comment: 'recorder/ works on an interface the room side implements, not on sfu/ itself.',
      from: { path: '^recorder/' },
      to: { path: '^sfu/' },
    },
    {
      name: 'room-not-on-cluster',
      severity: 'error',
      comment: 'A Room is placed by cluster/, through an interface room/ declares.',
      from: { path: '^sfu/room/' },
      to: { path: '^sfu/cluster/' },
    },
    {
      name: 'server-is-the-root',
      severity: 'error',
      comment: 'Only the entry point (and tests) may import the Server that wires the parts.',
      from: { path: '^sfu/', pathNot: '^sfu/main\\.ts$' },
      to: { path: '^sfu/Server\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.vue', '.mjs'] },
  },
};
