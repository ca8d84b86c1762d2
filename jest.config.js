// One Jest run for the whole workspace. Sources are ESM TypeScript (NodeNext), so Jest runs in
// its native-ESM mode (`--experimental-vm-modules`, set by the root `test` script) and workspace
// imports resolve to source, not to `dist/`.
const workspace = {
  contract: 'packages/contract',
  core: 'packages/core',
  gcore: 'packages/gcore',
  cli: 'packages/cli',
  relay: 'apps/relay',
  worker: 'apps/worker',
  'gcore-emulator': 'apps/gcore-emulator',
};

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/apps', '<rootDir>/test'],
  testMatch: ['**/src/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    ...Object.fromEntries(
      Object.entries(workspace).map(([name, dir]) => [`^@gtr/${name}$`, `<rootDir>/${dir}/src/index.ts`]),
    ),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  testTimeout: 60_000,
  maxWorkers: 2,
};
