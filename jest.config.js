// One Jest run for the whole workspace. Sources are ESM TypeScript (NodeNext), so Jest runs in
// its native-ESM mode (`--experimental-vm-modules`, set by the root `test` scripts) and workspace
// imports resolve to source, not to `dist/`.
//
// Two projects, together everything exactly once (`pnpm test`):
//   unit  (`pnpm test:unit`): the tests beside the code in apps/*/src and packages/*/src; they
//         start no child process and no browser (real Redis and loopback HTTP are fine), and need
//         no build.
//   e2e   (`pnpm test:e2e`): test/src (built apps as child processes, headless Chromium) and the
//         few tests beside the code that start a process of their own (SPAWNING below).
const workspace = {
  contract: 'packages/contract',
  core: 'packages/core',
  gcore: 'packages/gcore',
  cli: 'packages/cli',
  relay: 'apps/relay',
  worker: 'apps/worker',
  'gcore-emulator': 'apps/gcore-emulator',
  standalone: 'apps/standalone',
};

/** Packages with test helpers at `@gtr/<name>/testing` (kept out of their main entry points). */
const testing = ['core', 'relay', 'cli'];

/** Tests beside the code that start a child process (redis-server): they run with the e2e ones. */
const SPAWNING = [
  'apps/relay/src/durability.test.ts',
  'apps/relay/src/health.test.ts',
  'apps/standalone/src/redis.test.ts',
];

const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    ...Object.fromEntries(
      Object.entries(workspace).map(([name, dir]) => [`^@gtr/${name}$`, `<rootDir>/${dir}/src/index.ts`]),
    ),
    ...Object.fromEntries(
      testing.map((name) => [`^@gtr/${name}/testing$`, `<rootDir>/${workspace[name]}/src/testing.ts`]),
    ),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
};

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/packages', '<rootDir>/apps'],
      testMatch: ['<rootDir>/{apps,packages}/*/src/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/', ...SPAWNING.map((file) => `<rootDir>/${file}`)],
    },
    {
      ...shared,
      displayName: 'e2e',
      roots: ['<rootDir>/test', '<rootDir>/apps'],
      testMatch: ['<rootDir>/test/src/**/*.test.ts', ...SPAWNING.map((file) => `<rootDir>/${file}`)],
    },
  ],
  testTimeout: 60_000,
  maxWorkers: 2,
};
