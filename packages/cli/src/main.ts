#!/usr/bin/env node
import { runCli } from './cli.js';
import { EXIT } from './io.js';

/**
 * `pnpm relay …`. pnpm runs scripts from the workspace root; file arguments are meant relative to
 * where the command was typed, which pnpm passes as INIT_CWD.
 */
const cwd =
  process.env.npm_lifecycle_event === 'relay' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();

// The AWS SDK (for `import --s3`) warns that its 2027 releases need Node 22; this CLI supports
// Node 20.19 and the lockfile holds a release that runs there, so the warning only confuses users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const interrupt = new AbortController();
let interrupts = 0;
const onSignal = () => {
  // The first Ctrl-C stops cleanly (uploads keep what the relay has); a second one exits at once.
  if (++interrupts > 1) process.exit(EXIT.interrupted);
  interrupt.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Progress bars hide the cursor; give it back however the process ends.
process.on('exit', () => {
  if (process.stdout.isTTY) process.stdout.write('\x1b[?25h');
});

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd,
  root: process.cwd(),
  signal: interrupt.signal,
});
// Exit now (idle keep-alive sockets would hold the process), once what was written is flushed.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
