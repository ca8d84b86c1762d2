// What the relay serves at /dashboard/assets/contract/index.js: @gtr/contract's compiled modules
// (apps/relay/src/dashboard/index.ts). This file only tells the type check (pnpm typecheck) so.
export * from '@gtr/contract';
