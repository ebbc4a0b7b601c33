/**
 * End-to-end tests of the `faas` binary: every test runs the real `cli/faas.js` in a child
 * process (with this test's Node 24, which makes faas.js re-execute with --no-node-snapshot)
 * against a real platform started by `startPlatform()`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPlatform } from '../test/support/platform.ts';

const FAAS_BIN = fileURLToPath(new URL('./faas.js', import.meta.url));

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Where the CLI looks for its config file in these tests: an empty dir, never the developer's own. */
const NO_CONFIG_DIR = join(tmpdir(), `faas-cli-test-no-config-${process.pid}`);

/** The environment without any FAAS_* variable of the developer's shell, and without their CLI config file. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('FAAS_')) env[key] = value;
  return { ...env, XDG_CONFIG_HOME: NO_CONFIG_DIR, ...extra };
}

/** Run `node cli/faas.js ...args` and collect its output (never rejects on a non-zero exit). */
function runBinary(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; node?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, [FAAS_BIN, ...args], { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function version(n: number, extra = ''): string {
  return `export default async function handler(req, ctx) {
  ctx.log.info('hello log', req.body && req.body.name ? req.body.name : 'nobody');
  ${extra}
  return { hello: req.body && req.body.name ? req.body.name : 'world', v: ${n} };
}
`;
}

describe('the faas CLI against a running platform', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  let work: string;
  let emptyDataDir: string;

  /** Run with FAAS_URL and FAAS_API_KEY of the test platform (unless `env` overrides them). */
  const faas = (args: string[], env: Record<string, string> = {}): Promise<RunResult> =>
    runBinary(args, { env: cleanEnv({ FAAS_URL: platform.url, FAAS_API_KEY: platform.apiKey, FAAS_DATA_DIR: emptyDataDir, ...env }), cwd: work });

  before(async () => {
    platform = await startPlatform();
    work = await mkdtemp(join(tmpdir(), 'faas-cli-test-'));
    emptyDataDir = join(work, 'no-data');
    await mkdir(emptyDataDir);
  });

  after(async () => {
    await platform?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('--help lists every command and exits 0', async () => {
    const result = await faas(['--help']);
    assert.equal(result.code, 0, result.stderr);
    const commands = ['login', 'logout', 'whoami', 'apps', 'functions', 'deploy', 'versions', 'alias', 'rollback', 'invoke', 'logs', 'config', 'secrets', 'keys', 'audit'];
    for (const command of commands) {
      assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'), `--help should list ${command}`);
    }
  });

  it('a usage error prints commander\'s message and exits 2', async () => {
    const result = await faas(['invoke', 'not-a-target']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /expected <app>\/<function>/);
  });

  it('deploys a single file under the file name and moves prod to it', async () => {
    await writeFile(join(work, 'cli-hello.js'), version(1));
    const result = await faas(['deploy', 'cli-hello.js', '--app', 'demo', '--message', 'first version']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^deployed demo\/cli-hello version \S+ \(.+\) → prod \(new\)$/m);
  });

  it('invokes a function with JSON data: status line on stderr, body on stdout', async () => {
    const result = await faas(['invoke', 'demo/cli-hello', '--data', '{"name":"ana"}']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^HTTP 200 /);
    assert.deepEqual(JSON.parse(result.stdout), { hello: 'ana', v: 1 });
  });

  it('deploys a directory using the name and limits of its function.json', async () => {
    const dir = join(work, 'some-dir');
    await mkdir(dir);
    await writeFile(join(dir, 'index.js'), 'export default async function handler(req) { return { greeting: "hi " + req.path }; }\n');
    await writeFile(join(dir, 'function.json'), JSON.stringify({ name: 'cli-greeter', limits: { cpuTimeMs: 150 } }));
    const deployed = await faas(['deploy', dir, '--app', 'demo']);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(deployed.stdout, /^deployed demo\/cli-greeter version /m);
    const invoked = await faas(['invoke', 'demo/cli-greeter', '--path', '/x/y']);
    assert.equal(invoked.code, 0, invoked.stderr);
    assert.deepEqual(JSON.parse(invoked.stdout), { greeting: 'hi /x/y' });
  });

  it('versions lists both versions, newest first, with prod marking the newest', async () => {
    await writeFile(join(work, 'cli-hello.js'), version(2));
    const deployed = await faas(['deploy', 'cli-hello.js', '--app', 'demo', '--message', 'second version']);
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(deployed.stdout, /→ prod \(was \S+\)$/m);

    const listed = await faas(['versions', 'demo/cli-hello']);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trimEnd().split('\n');
    assert.match(rows[0], /^ID\s+ALIAS\s+SIZE\s+AUTH\s+AUTHOR\s+MESSAGE\s+CREATED$/);
    assert.equal(rows.length, 3, listed.stdout);
    assert.match(rows[1], /\*prod .*second version/);
    assert.match(rows[2], /first version/);
    assert.doesNotMatch(rows[2], /\*prod/);

    const asJson = await faas(['versions', 'demo/cli-hello', '--json']);
    const parsed = JSON.parse(asJson.stdout) as { versions: Array<{ id: string; message: string }> };
    assert.deepEqual(parsed.versions.map((v) => v.message), ['second version', 'first version']);
    const functions = JSON.parse((await faas(['functions', 'demo', '--json'])).stdout) as { functions: Array<{ name: string; aliases: Record<string, string> }> };
    assert.equal(functions.functions.find((fn) => fn.name === 'cli-hello')?.aliases.prod, parsed.versions[0].id);
  });

  it('rollback moves prod back and invocation shows the old behaviour', async () => {
    const before = await faas(['invoke', 'demo/cli-hello', '--data', '{"name":"bo"}']);
    assert.deepEqual(JSON.parse(before.stdout), { hello: 'bo', v: 2 });

    const rolled = await faas(['rollback', 'demo/cli-hello']);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /^demo\/cli-hello prod → \S+ \(was \S+\)$/m);

    const after = await faas(['invoke', 'demo/cli-hello', '--data', '{"name":"bo"}']);
    assert.equal(after.code, 0, after.stderr);
    assert.deepEqual(JSON.parse(after.stdout), { hello: 'bo', v: 1 });

    const listed = await faas(['versions', 'demo/cli-hello']);
    assert.match(listed.stdout, /\*prod .*first version/);
  });

  it('rollback --to accepts a version id prefix', async () => {
    const listed = JSON.parse((await faas(['versions', 'demo/cli-hello', '--json'])).stdout) as { versions: Array<{ id: string; message: string }> };
    const second = listed.versions.find((v) => v.message === 'second version');
    assert.ok(second !== undefined);
    const rolled = await faas(['rollback', 'demo/cli-hello', '--to', second.id.slice(0, 10)]);
    assert.equal(rolled.code, 0, rolled.stderr);
    const invoked = await faas(['invoke', 'demo/cli-hello', '--data', '{"name":"cy"}']);
    assert.deepEqual(JSON.parse(invoked.stdout), { hello: 'cy', v: 2 });
  });

  it('logs show the line the function logged, also filtered by request id', async () => {
    const marker = `marker-${Date.now()}`;
    const invoked = await faas(['invoke', 'demo/cli-hello', '--data', JSON.stringify({ name: marker })]);
    assert.equal(invoked.code, 0, invoked.stderr);
    const requestId = /request (\S+?)[,)]/.exec(invoked.stderr)?.[1];
    assert.ok(requestId !== undefined, `no request id in the status line: ${invoked.stderr}`);

    let logs: RunResult = { code: null, stdout: '', stderr: '' };
    for (let attempt = 0; attempt < 25 && !logs.stdout.includes(marker); attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      logs = await faas(['logs', 'demo/cli-hello', '--limit', '50']);
      assert.equal(logs.code, 0, logs.stderr);
    }
    assert.match(logs.stdout, new RegExp(`info\\s+${requestId} \\S+ hello log ${marker}$`, 'm'));

    const filtered = await faas(['logs', 'demo/cli-hello', '--request-id', requestId, '--json']);
    const parsed = JSON.parse(filtered.stdout) as { lines: Array<{ requestId: string; level: string; message: string }> };
    assert.equal(parsed.lines.length, 1, filtered.stdout);
    assert.equal(parsed.lines[0].requestId, requestId);
    assert.equal(parsed.lines[0].level, 'info');
    assert.match(parsed.lines[0].message, new RegExp(`hello log ${marker}`));
  });

  it('logs --follow prints new lines as they arrive, each once', async () => {
    const marker = `follow-${Date.now()}`;
    const child = spawn(process.execPath, ['--no-node-snapshot', FAAS_BIN, 'logs', 'demo/cli-hello', '--follow', '--since', String(Date.now())], {
      env: cleanEnv({ FAAS_URL: platform.url, FAAS_API_KEY: platform.apiKey, FAAS_DATA_DIR: emptyDataDir }), cwd: work, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    try {
      // Generous: on a loaded 2-core machine starting the CLI alone can take seconds.
      const until = async (predicate: () => boolean) => {
        for (let i = 0; i < 250 && !predicate(); i++) await new Promise((r) => setTimeout(r, 100));
        return predicate();
      };
      assert.equal((await faas(['invoke', 'demo/cli-hello', '--data', JSON.stringify({ name: `${marker}-1` })])).code, 0);
      assert.ok(await until(() => stdout.includes(`${marker}-1`)), `first line not followed: ${stdout} ${stderr}`);
      assert.equal((await faas(['invoke', 'demo/cli-hello', '--data', JSON.stringify({ name: `${marker}-2` })])).code, 0);
      assert.ok(await until(() => stdout.includes(`${marker}-2`)), `second line not followed: ${stdout}`);
      await new Promise((r) => setTimeout(r, 1200)); // one more poll must not repeat anything
      assert.equal(stdout.split(`${marker}-1`).length - 1, 1, stdout);
      assert.equal(stdout.split(`${marker}-2`).length - 1, 1, stdout);
    } finally {
      child.kill('SIGINT');
    }
  });

  it('invoke exits 1 and still prints the body when the function answers 404', async () => {
    const result = await faas(['invoke', 'demo/live-stream', '--path', '/no/such/route']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^HTTP 404 /);
    const body = JSON.parse(result.stdout) as { error: { code: string } };
    assert.equal(body.error.code, 'ROUTE_NOT_FOUND');
  });

  it('a syntax error is shown with code, file:line:column and a code frame, and exits 1', async () => {
    await writeFile(join(work, 'broken.js'), 'export default async function handler(req) {\n  return { ok: ;\n}\n');
    const result = await faas(['deploy', 'broken.js', '--app', 'demo']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error E_SYNTAX: .+/);
    assert.match(result.stderr, /^ {2}at broken\.js:2:\d+$/m);
    assert.match(result.stderr, /return \{ ok: ;/);
    assert.equal(result.stdout, '');
  });

  it('a rule violation lists each diagnostic with its rule, location and hint, and exits 1', async () => {
    await writeFile(join(work, 'no-default.js'), 'export async function handler(req) {\n  return 1;\n}\n');
    const result = await faas(['deploy', 'no-default.js', '--app', 'demo']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error E_CHECK: .+/);
    assert.match(result.stderr, /^ {2}no-default\.js:\d+:\d+ [a-z-]+: .+$/m);
    assert.match(result.stderr, /^ {4}hint: .+$/m);
  });

  it('an unknown app gives the not-found error and exits 1', async () => {
    const result = await faas(['versions', 'no-such-app/fn']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error \S*APP_NOT_FOUND: .+$/m);
  });

  it('without an API key the platform refuses with E_UNAUTHORIZED and the CLI says how to pass one', async () => {
    const result = await faas(['apps'], { FAAS_API_KEY: '' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error E_UNAUTHORIZED: .+$/m);
    assert.match(result.stderr, /no API key was sent: run `faas login`/);
  });

  it('a wrong API key is refused with E_UNAUTHORIZED', async () => {
    const result = await faas(['apps', '--api-key', 'not-the-key']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error E_UNAUTHORIZED: .+$/m);
    assert.match(result.stderr, /from --api-key was refused/);
  });

  it('the key is read from $FAAS_DATA_DIR/admin.key when no key is given', async () => {
    const result = await faas(['apps', '--json'], { FAAS_API_KEY: '', FAAS_DATA_DIR: platform.dataDir });
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { apps: Array<{ name: string }> };
    assert.ok(parsed.apps.some((app) => app.name === 'demo'));
  });

  it('apps lists the demo app as a table', async () => {
    const result = await faas(['apps']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^NAME\s+CREATED$/m);
    assert.match(result.stdout, /^demo\s+\S+$/m);
  });

  it('--url overrides FAAS_URL, and an unreachable platform gets the "is it running?" message', async () => {
    const port = await freePort();
    const result = await faas(['--url', `http://127.0.0.1:${port}`, 'apps']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `error E_UNREACHABLE: cannot reach the platform at http://127.0.0.1:${port}: is it running? (npm start)\n`);
  });

  it('the bin re-executes itself with the project Node 24 when started by an older node', async (t) => {
    // npm puts the project's Node 24 first on PATH, so look for the machine's own node too.
    const older = ['/usr/bin/node', '/usr/local/bin/node', 'node'].find((candidate) => {
      const probe = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
      const major = Number((probe.stdout ?? '').split('.')[0]);
      return probe.status === 0 && major > 0 && major < 24;
    });
    if (older === undefined) {
      t.skip('no node older than 24 on this machine');
      return;
    }
    const result = await runBinary(['apps', '--json'], { node: older, cwd: work, env: cleanEnv({ FAAS_URL: platform.url, FAAS_API_KEY: platform.apiKey }) });
    assert.equal(result.code, 0, result.stderr);
    assert.ok((JSON.parse(result.stdout) as { apps: unknown[] }).apps.length > 0);
  });
});
