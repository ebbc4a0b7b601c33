#!/usr/bin/env node
// The npm `bin` of the platform. Plain JavaScript so that any Node can start it: the real
// program is cli/main.ts, which needs Node >= 24 (type stripping, node:sqlite, isolated-vm 7)
// and the `--no-node-snapshot` flag (isolated-vm refuses to run without it on Node >= 20).
// When either is missing, re-run cli/main.ts with the project's Node 24 (the `node` package
// pinned in package.json) and that flag, forwarding arguments, stdio, signals and the exit code.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
const hasFlag = process.execArgv.includes('--no-node-snapshot');

if (major >= REQUIRED_MAJOR && hasFlag) {
  const { runCli } = await import('./main.ts');
  process.exitCode = await runCli(process.argv);
} else {
  const node = major >= REQUIRED_MAJOR ? process.execPath : findProjectNode();
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const child = spawn(node, ['--no-node-snapshot', main, ...process.argv.slice(2)], { stdio: 'inherit' });
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => forward(signal));
  child.on('error', (error) => {
    process.stderr.write(`faas: cannot start ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      // Die of the same signal so the parent shell sees it (restore the default handler first).
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

/** The project's Node 24: the `node` npm package's binary, else node_modules/.bin/node. */
function findProjectNode() {
  const candidates = [
    new URL('../node_modules/node/bin/node', import.meta.url),
    new URL('../node_modules/.bin/node', import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    process.stderr.write(
      `faas: needs Node.js ${REQUIRED_MAJOR} or newer (this is ${process.version}) and found none in node_modules: run \`npm install\` in the project first\n`,
    );
    process.exit(1);
  }
  return found;
}
