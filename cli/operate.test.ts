/**
 * End-to-end tests of the `faas` verbs that operate a platform: login/logout/whoami and the
 * config file, alias and canary moves, function config and secrets, API keys and roles, the
 * audit log, and `--json` output (which must be exactly the API's JSON). Every test runs
 * `cli/main.ts` in a child process (Node 24 with --no-node-snapshot, as `cli/faas.js` would)
 * against a real platform from `test/support/platform.ts`, with a temporary HOME and
 * XDG_CONFIG_HOME so the developer's own config is never read or written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPlatform } from '../test/support/platform.ts';
import { freePort } from '../test/support/free-port.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any FAAS_* / XDG_CONFIG_HOME variable of the developer's shell. */
function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('FAAS_') && key !== 'XDG_CONFIG_HOME') env[key] = value;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Run `node --no-node-snapshot cli/main.ts ...args`; `input` is piped to stdin (else stdin is /dev/null). */
function run(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; input?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', MAIN, ...args], {
      env: options.env, cwd: options.cwd, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

function handler(tag: string): string {
  return `export default async function handler(req, ctx) {\n  return { tag: ${JSON.stringify(tag)} };\n}\n`;
}

describe('faas verbs that operate a platform', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  let work: string;
  /** HOME and XDG_CONFIG_HOME of the "logged in" user. */
  let home: string;
  let xdg: string;

  /** The CLI as a logged-in user: no FAAS_URL / FAAS_API_KEY, only the config file (after the login test). */
  const faas = (args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<RunResult> =>
    run(args, { env: cleanEnv({ HOME: home, XDG_CONFIG_HOME: xdg, ...env }), cwd: work, input });
  /** The CLI with the admin key in the environment (independent of the config file). */
  const admin = (args: string[], env: Record<string, string> = {}, input?: string): Promise<RunResult> =>
    faas(args, { FAAS_URL: platform.url, FAAS_API_KEY: platform.apiKey, ...env }, input);

  /** GET an /api path with the admin key, the way the CLI's --json must print it. */
  const api = async (path: string, key = platform.apiKey): Promise<unknown> => {
    const res = await fetch(`${platform.url}/api${path}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return res.json() as Promise<unknown>;
  };

  const versionIds = async (fn: string): Promise<string[]> =>
    ((await api(`/apps/demo/functions/${fn}/versions`)) as { versions: Array<{ id: string }> }).versions.map((v) => v.id);

  before(async () => {
    platform = await startPlatform();
    work = await mkdtemp(join(tmpdir(), 'faas-cli-operate-'));
    home = join(work, 'home');
    xdg = join(work, 'xdg');
    await mkdir(home);
    // Two versions of `canary-fn` for the alias tests: v1 (prod) then v2 (staging).
    for (const tag of ['v1', 'v2']) {
      await writeFile(join(work, 'canary-fn.js'), handler(tag));
      const deployed = await admin(['deploy', 'canary-fn.js', '--app', 'demo', '--message', tag, '--alias', tag === 'v1' ? 'prod' : 'staging']);
      assert.equal(deployed.code, 0, deployed.stderr);
    }
  });

  after(async () => {
    await platform?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  describe('login and the config file', () => {
    it('login checks the key and writes $XDG_CONFIG_HOME/faas/config.json with mode 0600 in a 0700 directory', async () => {
      const result = await faas(['--url', platform.url, 'login', '--key', platform.apiKey]);
      assert.equal(result.code, 0, result.stderr);
      const file = join(xdg, 'faas', 'config.json');
      assert.match(result.stdout, new RegExp(`^logged in to ${platform.url} as "admin" \\(role admin, apps: all\\); saved to ${file}$`, 'm'));
      assert.doesNotMatch(result.stdout + result.stderr, new RegExp(platform.apiKey), 'login must not print the key');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(join(xdg, 'faas'))).mode & 0o777, 0o700);
      assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { url: platform.url, apiKey: platform.apiKey });
    });

    it('later verbs use the saved URL and key, and whoami --json is exactly GET /api/whoami', async () => {
      const result = await faas(['whoami', '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), await api('/whoami'));
      const text = await faas(['whoami']);
      assert.match(text.stdout, /^admin \(role admin, apps: all\) key key_\S+$/m);
      assert.match(text.stderr, /key from .*faas\/config\.json/);
    });

    it('without XDG_CONFIG_HOME (or with a relative one) the file is ~/.config/faas/config.json', async () => {
      const otherHome = join(work, 'other-home');
      await mkdir(otherHome);
      const result = await faas(['--url', platform.url, 'login', '--key', platform.apiKey], { HOME: otherHome, XDG_CONFIG_HOME: 'relative/dir' });
      assert.equal(result.code, 0, result.stderr);
      const file = join(otherHome, '.config', 'faas', 'config.json');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await faas(['apps'], { HOME: otherHome, XDG_CONFIG_HOME: undefined })).code, 0);
    });

    it('login reads the key from a pipe when --key is not given', async () => {
      const pipedXdg = join(work, 'xdg-piped');
      const result = await faas(['--url', platform.url, 'login'], { XDG_CONFIG_HOME: pipedXdg }, `${platform.apiKey}\n`);
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(await readFile(join(pipedXdg, 'faas', 'config.json'), 'utf8')) as { apiKey: string }).apiKey, platform.apiKey);
    });

    it('login with a wrong key fails with E_UNAUTHORIZED and saves nothing', async () => {
      const badXdg = join(work, 'xdg-bad');
      const result = await faas(['--url', platform.url, 'login', '--key', 'faas_not-a-key'], { XDG_CONFIG_HOME: badXdg });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error E_UNAUTHORIZED: .*\(nothing was saved\)$/m);
      await assert.rejects(stat(join(badXdg, 'faas', 'config.json')), { code: 'ENOENT' });
    });

    it('login without any key and nothing on stdin is a usage error', async () => {
      const result = await faas(['--url', platform.url, 'login'], { XDG_CONFIG_HOME: join(work, 'xdg-none') });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^error E_NO_KEY: no API key given/m);
    });

    it('FAAS_API_KEY and --api-key override the saved key; FAAS_URL and --url override the saved URL', async () => {
      const refusedByEnv = await faas(['apps'], { FAAS_API_KEY: 'faas_wrong' });
      assert.equal(refusedByEnv.code, 1);
      assert.match(refusedByEnv.stderr, /^error E_UNAUTHORIZED: /m);
      assert.match(refusedByEnv.stderr, /the API key from FAAS_API_KEY was refused/);
      const refusedByFlag = await faas(['apps', '--api-key', 'faas_wrong'], { FAAS_API_KEY: platform.apiKey });
      assert.match(refusedByFlag.stderr, /the API key from --api-key was refused/);

      const deadUrl = `http://127.0.0.1:${await freePort()}`;
      const byEnv = await faas(['apps'], { FAAS_URL: deadUrl });
      assert.equal(byEnv.code, 1);
      assert.equal(byEnv.stderr, `error E_UNREACHABLE: cannot reach the platform at ${deadUrl}: is it running? (npm start)\n`);
      const byFlag = await faas(['--url', platform.url, 'apps'], { FAAS_URL: deadUrl });
      assert.equal(byFlag.code, 0, byFlag.stderr);
    });

    it('a malformed config file is reported with its path and how to fix it', async () => {
      const brokenXdg = join(work, 'xdg-broken');
      await mkdir(join(brokenXdg, 'faas'), { recursive: true });
      await writeFile(join(brokenXdg, 'faas', 'config.json'), '{ not json');
      const result = await faas(['apps'], { XDG_CONFIG_HOME: brokenXdg });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error E_BAD_CONFIG: .*xdg-broken\/faas\/config\.json is not valid JSON .*faas login/m);
    });

    it('logout removes the saved key, after which the platform refuses with a hint to log in', async () => {
      const logoutXdg = join(work, 'xdg-logout');
      assert.equal((await faas(['--url', platform.url, 'login', '--key', platform.apiKey], { XDG_CONFIG_HOME: logoutXdg })).code, 0);
      const out = await faas(['logout'], { XDG_CONFIG_HOME: logoutXdg });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^logged out: removed the API key from /);
      assert.deepEqual(JSON.parse(await readFile(join(logoutXdg, 'faas', 'config.json'), 'utf8')), { url: platform.url });
      const refused = await faas(['apps'], { XDG_CONFIG_HOME: logoutXdg, FAAS_DATA_DIR: join(work, 'no-data-dir') });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error E_UNAUTHORIZED: /m);
      assert.match(refused.stderr, /no API key was sent: run `faas login`/);
    });
  });

  describe('deploy manifest', () => {
    it('deploy sends "auth" from function.json and versions --json shows it, exactly as the API lists it', async () => {
      const dir = join(work, 'guarded');
      await mkdir(dir);
      await writeFile(join(dir, 'index.js'), handler('guarded'));
      await writeFile(join(dir, 'function.json'), JSON.stringify({ name: 'guarded', auth: 'required', limits: { cpuTimeMs: 150 } }));
      const deployed = await faas(['deploy', dir, '--app', 'demo']);
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(deployed.stdout, /^deployed demo\/guarded version \S+ \(.+, auth required\) → prod \(new\)$/m);
      const listed = await faas(['versions', 'demo/guarded', '--json']);
      const parsed = JSON.parse(listed.stdout) as { versions: Array<{ auth: string; limits: { cpuTimeMs: number } }> };
      assert.deepEqual(parsed, await api('/apps/demo/functions/guarded/versions'));
      assert.equal(parsed.versions[0].auth, 'required');
      assert.equal(parsed.versions[0].limits.cpuTimeMs, 150);
    });

    it('an "auth" other than none or required is refused before anything is sent', async () => {
      const dir = join(work, 'bad-auth');
      await mkdir(dir);
      await writeFile(join(dir, 'index.js'), handler('x'));
      await writeFile(join(dir, 'function.json'), JSON.stringify({ auth: 'sometimes' }));
      const result = await faas(['deploy', dir, '--app', 'demo']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error E_BAD_MANIFEST: .*function\.json: "auth" must be "none" .* or "required"/m);
      const functions = (await api('/apps/demo/functions')) as { functions: Array<{ name: string }> };
      assert.ok(!functions.functions.some((fn) => fn.name === 'bad-auth'));
    });
  });

  describe('aliases and canaries', () => {
    it('alias set moves an alias to a version given by a unique prefix', async () => {
      const [v2, v1] = await versionIds('canary-fn');
      const result = await faas(['alias', 'set', 'demo/canary-fn', 'beta', v1.slice(0, 8)]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `demo/canary-fn beta → ${v1.slice(0, 12)} (new), no canary\n`);
      const fn = (await api('/apps/demo/functions/canary-fn')) as { function: { aliases: Record<string, string> } };
      assert.equal(fn.function.aliases.beta, v1);
      assert.notEqual(v1, v2);
    });

    it('--canary with --weight splits the alias, and functions --json is exactly the API\'s list', async () => {
      const [v2, v1] = await versionIds('canary-fn');
      const result = await faas(['alias', 'set', 'demo/canary-fn', 'prod', v1, '--canary', v2.slice(0, 10), '--weight', '10']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`prod → ${v1.slice(0, 12)} \\(unchanged\\), canary ${v2.slice(0, 12)} gets 10%`));
      const listed = await faas(['functions', 'demo', '--json']);
      const parsed = JSON.parse(listed.stdout) as { functions: Array<{ name: string; canaries: Record<string, unknown> }> };
      assert.deepEqual(parsed, await api('/apps/demo/functions'));
      assert.deepEqual(parsed.functions.find((fn) => fn.name === 'canary-fn')?.canaries, { prod: { versionId: v2, weight: 10 } });
      const table = await faas(['versions', 'demo/canary-fn']);
      assert.match(table.stdout, new RegExp(`^${v2.slice(0, 12)}\\s+.*~prod\\(10%\\)`, 'm'));
    });

    it('--weight alone makes the given version the canary and keeps the alias\'s main version (faas alias set prod v --weight 25)', async () => {
      const [v2, v1] = await versionIds('canary-fn');
      assert.equal((await faas(['alias', 'clear-canary', 'demo/canary-fn', 'prod'])).code, 0);
      const result = await faas(['alias', 'set', 'demo/canary-fn', 'prod', v2, '--weight', '25%']);
      assert.equal(result.code, 0, result.stderr);
      const fn = (await api('/apps/demo/functions/canary-fn')) as { function: { aliases: Record<string, string>; canaries: Record<string, unknown> } };
      assert.equal(fn.function.aliases.prod, v1);
      assert.deepEqual(fn.function.canaries.prod, { versionId: v2, weight: 25 });
    });

    it('clear-canary sends all traffic to the main version again, and says so when there is none', async () => {
      const [, v1] = await versionIds('canary-fn');
      const cleared = await faas(['alias', 'clear-canary', 'demo/canary-fn']);
      assert.equal(cleared.code, 0, cleared.stderr);
      assert.match(cleared.stdout, /canary \S+ \(25%\) cleared/);
      const fn = (await api('/apps/demo/functions/canary-fn')) as { function: { aliases: Record<string, string>; canaries: Record<string, unknown> } };
      assert.equal(fn.function.aliases.prod, v1);
      assert.deepEqual(fn.function.canaries, {});
      const again = await faas(['alias', 'clear-canary', 'demo/canary-fn']);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /has no canary; nothing to clear/);
    });

    it('an unknown version is E_VERSION_NOT_FOUND with a hint, and the alias does not move', async () => {
      const before = await api('/apps/demo/functions/canary-fn');
      const result = await faas(['alias', 'set', 'demo/canary-fn', 'prod', 'ffff0000']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error E_VERSION_NOT_FOUND: no version of demo\/canary-fn has an id starting with "ffff0000"$/m);
      assert.match(result.stderr, /hint: list the versions with `faas versions demo\/canary-fn`/);
      const full = await faas(['alias', 'set', 'demo/canary-fn', 'prod', '0123456789abcdef0123']);
      assert.equal(full.code, 1);
      assert.match(full.stderr, /^error E_VERSION_NOT_FOUND: /m);
      assert.deepEqual(await api('/apps/demo/functions/canary-fn'), before);
    });

    it('--weight alone on an alias that does not exist says there is no main version to keep', async () => {
      const [v2] = await versionIds('canary-fn');
      const result = await faas(['alias', 'set', 'demo/canary-fn', 'nightly', v2, '--weight', '10']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error E_ALIAS_NOT_FOUND: alias nightly of demo\/canary-fn does not exist, so there is no main version to keep/m);
    });

    it('bad weights and --canary without --weight are usage errors (exit 2)', async () => {
      const [v2, v1] = await versionIds('canary-fn');
      const [noWeight, ...bad] = await Promise.all([
        faas(['alias', 'set', 'demo/canary-fn', 'prod', v1, '--canary', v2]),
        ...['0', '100', 'ten'].map((weight) => faas(['alias', 'set', 'demo/canary-fn', 'prod', v1, '--canary', v2, '--weight', weight])),
      ]);
      for (const result of bad) {
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /--weight .* an integer from 1 to 99/);
      }
      assert.equal(noWeight.code, 2);
      assert.match(noWeight.stderr, /--canary needs --weight/);
    });
  });

  describe('config and secrets', () => {
    it('config set, get (one value raw, all as a table or the API\'s JSON) and unset', async () => {
      const sets = await Promise.all([faas(['config', 'set', 'demo/canary-fn', 'GREETING', 'hello there']), faas(['config', 'set', 'demo/canary-fn', 'LEVEL', '3'])]);
      for (const set of sets) assert.equal(set.code, 0, set.stderr);
      const [one, all, asJson] = await Promise.all([
        faas(['config', 'get', 'demo/canary-fn', 'GREETING']),
        faas(['config', 'get', 'demo/canary-fn']),
        faas(['config', 'get', 'demo/canary-fn', '--json']),
      ]);
      assert.equal(one.stdout, 'hello there\n');
      assert.match(all.stdout, /^GREETING\s+hello there$/m);
      assert.deepEqual(JSON.parse(asJson.stdout), await api('/apps/demo/functions/canary-fn/config'));
      const unset = await faas(['config', 'unset', 'demo/canary-fn', 'LEVEL']);
      assert.equal(unset.code, 0, unset.stderr);
      assert.deepEqual(((await api('/apps/demo/functions/canary-fn/config')) as { values: unknown }).values, { GREETING: 'hello there' });
    });

    it('unsetting or getting a value that is not set is E_CONFIG_NOT_FOUND', async () => {
      const [unset, get] = await Promise.all([faas(['config', 'unset', 'demo/canary-fn', 'NOPE']), faas(['config', 'get', 'demo/canary-fn', 'NOPE'])]);
      assert.equal(unset.code, 1);
      assert.match(unset.stderr, /^error E_CONFIG_NOT_FOUND: .*NOPE/m);
      assert.equal(get.code, 1);
      assert.match(get.stderr, /^error E_CONFIG_NOT_FOUND: config value NOPE is not set for demo\/canary-fn$/m);
    });

    it('a secret set from stdin or an argument is never printed: not by set, list, list --json, config get or audit', async () => {
      const piped = 'piped-Secret-4242';
      const argued = 'argued-Secret-1717';
      const fromStdin = await faas(['secrets', 'set', 'demo/canary-fn', 'PAYMENT_TOKEN'], {}, `${piped}\n`);
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      const fromArg = await faas(['secrets', 'set', 'demo/canary-fn', 'OTHER_TOKEN', argued]);
      assert.equal(fromArg.code, 0, fromArg.stderr);
      const reads = await Promise.all([
        ['secrets', 'list', 'demo/canary-fn'],
        ['secrets', 'list', 'demo/canary-fn', '--json'],
        ['config', 'get', 'demo/canary-fn'],
        ['config', 'get', 'demo/canary-fn', '--json'],
        ['config', 'get', 'demo/canary-fn', 'PAYMENT_TOKEN'],
        ['audit', '--app', 'demo', '--json'],
        ['audit'],
      ].map((args) => faas(args)));
      const outputs = [fromStdin, fromArg, ...reads];
      for (const result of outputs) {
        for (const secret of [piped, argued]) assert.ok(!(result.stdout + result.stderr).includes(secret), `secret printed: ${result.stdout}${result.stderr}`);
      }
      const parsed = JSON.parse(reads[1].stdout) as { secrets: Array<{ name: string }> };
      assert.deepEqual(parsed, await api('/apps/demo/functions/canary-fn/secrets'));
      assert.deepEqual(parsed.secrets.map((s) => s.name).sort(), ['OTHER_TOKEN', 'PAYMENT_TOKEN']);
      assert.match(reads[0].stdout, /^PAYMENT_TOKEN\s+\S+$/m);
      assert.equal(reads[4].code, 1, 'config get of a secret name must fail');
      assert.match(reads[4].stderr, /^error E_CONFIG_NOT_FOUND: PAYMENT_TOKEN is a secret of demo\/canary-fn, and secret values are never readable$/m);
    });

    it('an empty secret is refused, and secrets unset removes one', async () => {
      const empty = await faas(['secrets', 'set', 'demo/canary-fn', 'EMPTY'], {}, '');
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /^error E_EMPTY_SECRET: /m);
      const unset = await faas(['secrets', 'unset', 'demo/canary-fn', 'OTHER_TOKEN']);
      assert.equal(unset.code, 0, unset.stderr);
      const names = ((await api('/apps/demo/functions/canary-fn/secrets')) as { secrets: Array<{ name: string }> }).secrets.map((s) => s.name);
      assert.deepEqual(names, ['PAYMENT_TOKEN']);
    });

    it('secrets set asks without echo on a terminal', async (t) => {
      const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
      if (probe.status !== 0) {
        t.skip('util-linux `script` (to get a terminal) is not installed');
        return;
      }
      const secret = 'typed-Secret-9393';
      const command = [process.execPath, '--no-node-snapshot', MAIN, 'secrets', 'set', 'demo/canary-fn', 'TYPED_TOKEN'].map((arg) => `'${arg}'`).join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: cleanEnv({ HOME: home, XDG_CONFIG_HOME: xdg }), cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
      let seen = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (seen += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (seen += chunk));
      const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
      for (let i = 0; i < 200 && !seen.includes('value of secret TYPED_TOKEN:'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(seen, /value of secret TYPED_TOKEN:/);
      child.stdin.write(`${secret}\r`);
      assert.equal(await closed, 0, seen);
      assert.match(seen, /secret TYPED_TOKEN set for demo\/canary-fn/);
      assert.ok(!seen.includes(secret), `the typed secret was echoed: ${seen}`);
    });
  });

  describe('keys, roles and the audit log', () => {
    let developerKey: string;
    let developerKeyId: string;

    it('keys create prints the secret alone on stdout, once; keys list --json is the API\'s list and has no secret', async () => {
      const created = await faas(['keys', 'create', 'ci-demo', '--role', 'developer', '--app', 'demo']);
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /^faas_\S+\n$/);
      developerKey = created.stdout.trim();
      assert.match(created.stderr, /^created key (key_\S+) "ci-demo" \(role developer, apps: demo\); its secret follows, shown only this once:$/m);
      developerKeyId = /created key (key_\S+)/.exec(created.stderr)?.[1] ?? '';
      const listed = await faas(['keys', 'list', '--json']);
      assert.deepEqual(JSON.parse(listed.stdout), await api('/keys'));
      assert.ok(!listed.stdout.includes(developerKey));
      const table = await faas(['keys', 'list']);
      assert.match(table.stdout, new RegExp(`^${developerKeyId}\\s+ci-demo\\s+developer\\s+demo\\s+\\S+\\s+-$`, 'm'));
    });

    it('a developer key deploys to its app but may not manage keys nor touch another app (E_FORBIDDEN, exit 1)', async () => {
      const asDeveloper = (args: string[]) => faas(args, { FAAS_API_KEY: developerKey });
      assert.match((await asDeveloper(['whoami'])).stdout, /^ci-demo \(role developer, apps: demo\)/);
      await writeFile(join(work, 'dev-fn.js'), handler('dev'));
      const deployed = await asDeveloper(['deploy', 'dev-fn.js', '--app', 'demo']);
      assert.equal(deployed.code, 0, deployed.stderr);

      const keys = await asDeveloper(['keys', 'create', 'sneaky', '--role', 'admin']);
      assert.equal(keys.code, 1);
      assert.match(keys.stderr, /^error E_FORBIDDEN: API key "ci-demo" \(role developer\) may not keys:manage/m);
      assert.match(keys.stderr, /hint: `faas whoami` shows the role and apps/);
      assert.equal(keys.stdout, '');

      const otherApp = await asDeveloper(['deploy', 'dev-fn.js', '--app', 'other-studio']);
      assert.equal(otherApp.code, 1);
      assert.match(otherApp.stderr, /^error E_FORBIDDEN: .*not granted app other-studio/m);
    });

    it('a viewer key reads but may not set config', async () => {
      const viewer = await faas(['keys', 'create', 'dashboards', '--role', 'viewer', '--app', 'demo', '--json']);
      assert.equal(viewer.code, 0, viewer.stderr);
      const created = JSON.parse(viewer.stdout) as { key: { role: string; apps: unknown }; secret: string };
      assert.deepEqual([created.key.role, created.key.apps], ['viewer', ['demo']]);
      const [read, write] = await Promise.all([
        faas(['versions', 'demo/canary-fn'], { FAAS_API_KEY: created.secret }),
        faas(['config', 'set', 'demo/canary-fn', 'GREETING', 'hacked'], { FAAS_API_KEY: created.secret }),
      ]);
      assert.equal(read.code, 0, read.stderr);
      assert.equal(write.code, 1);
      assert.match(write.stderr, /^error E_FORBIDDEN: /m);
    });

    it('keys create --app "*" makes a key for every app', async () => {
      const result = await faas(['keys', 'create', 'everywhere', '--role', 'viewer', '--app', '*', '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { key: { apps: unknown } }).key.apps, '*');
    });

    it('keys revoke stops a key at once; an unknown id is E_KEY_NOT_FOUND', async () => {
      const revoked = await faas(['keys', 'revoke', developerKeyId]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal(revoked.stdout, `revoked key ${developerKeyId} "ci-demo" (developer)\n`);
      const refused = await faas(['apps'], { FAAS_API_KEY: developerKey });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error E_UNAUTHORIZED: /m);
      const unknown = await faas(['keys', 'revoke', 'key_0000000000000000']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^error E_KEY_NOT_FOUND: /m);
      assert.match(unknown.stderr, /hint: list the key ids with `faas keys list`/);
    });

    it('audit --json is exactly the API\'s page; --limit and --before page through it; the table names actor and action', async () => {
      const page = await faas(['audit', '--app', 'demo', '--limit', '3', '--json']);
      assert.equal(page.code, 0, page.stderr);
      const parsed = JSON.parse(page.stdout) as { entries: Array<{ id: number; action: string }> };
      assert.deepEqual(parsed, await api('/audit?app=demo&limit=3'));
      assert.equal(parsed.entries.length, 3);
      const lastId = parsed.entries[2].id;
      const next = JSON.parse((await faas(['audit', '--app', 'demo', '--limit', '3', '--before', String(lastId), '--json'])).stdout) as { entries: Array<{ id: number }> };
      assert.ok(next.entries.length > 0 && next.entries.every((entry) => entry.id < lastId));

      const table = await faas(['audit', '--limit', '50']);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^ID\s+AT\s+ACTOR\s+ACTION\s+WHERE\s+CHANGE$/m);
      assert.match(table.stdout, /^\d+\s+\S+\s+admin\s+key\.revoke\s+key_\S+/m);
      assert.match(table.stdout, /^\d+\s+\S+\s+admin\s+secret\.set\s+demo\/canary-fn PAYMENT_TOKEN\s+- → \{"set":true\}$/m);
      assert.match(table.stdout, /^\d+\s+\S+\s+ci-demo\s+function\.deploy\s+demo\/dev-fn prod/m);
      const more = await faas(['audit', '--limit', '1']);
      assert.match(more.stderr, /^more: faas audit --before \d+$/m);
    });

    it('audit with a bad --limit is a usage error', async () => {
      const result = await faas(['audit', '--limit', 'lots']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /--limit/);
    });
  });

  describe('--json on the other read verbs', () => {
    it('apps --json and logs --json are exactly the API\'s JSON; logs --level keeps that level and above', async () => {
      assert.deepEqual(JSON.parse((await faas(['apps', '--json'])).stdout), await api('/apps'));

      await writeFile(join(work, 'leveled.js'), 'export default async function handler(req, ctx) { ctx.log.info("an info line"); ctx.log.warn("a warn line"); return { ok: true }; }\n');
      assert.equal((await faas(['deploy', 'leveled.js', '--app', 'demo'])).code, 0);
      const invoked = await faas(['invoke', 'demo/leveled']);
      const requestId = /request (\S+?)[,)]/.exec(invoked.stderr)?.[1] ?? '';
      let lines: Array<{ level: string; message: string }> = [];
      for (let attempt = 0; attempt < 25 && lines.length < 2; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 200));
        const logs = await faas(['logs', 'demo/leveled', '--request-id', requestId, '--json']);
        assert.equal(logs.code, 0, logs.stderr);
        const parsed = JSON.parse(logs.stdout) as { lines: Array<{ level: string; message: string }> };
        assert.deepEqual(parsed, await api(`/apps/demo/functions/leveled/logs?requestId=${requestId}`));
        lines = parsed.lines;
      }
      assert.deepEqual(lines.map((line) => line.level), ['info', 'warn']);
      const warnOnly = await faas(['logs', 'demo/leveled', '--request-id', requestId, '--level', 'warn']);
      assert.match(warnOnly.stdout, /warn\s+\S+ \S+ a warn line$/m);
      assert.doesNotMatch(warnOnly.stdout, /an info line/);
      const badLevel = await faas(['logs', 'demo/leveled', '--level', 'loud']);
      assert.equal(badLevel.code, 2);
    });

    it('invoke --version calls that exact version, bypassing the alias', async () => {
      const [v2] = await versionIds('canary-fn');
      const pinned = await faas(['invoke', 'demo/canary-fn', '--version', v2.slice(0, 8)]);
      assert.equal(pinned.code, 0, pinned.stderr);
      assert.equal((JSON.parse(pinned.stdout) as { tag: string }).tag, 'v2');
      const viaAlias = await faas(['invoke', 'demo/canary-fn']);
      assert.equal((JSON.parse(viaAlias.stdout) as { tag: string }).tag, 'v1');
    });
  });
});
