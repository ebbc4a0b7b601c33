/**
 * The operator dashboards (`charts/dashboards/*.json`) and alert rules (`charts/prometheus/rules.yml`)
 * against the real thing: the platform runs in this process and serves a bounded mixed load
 * (successes, 4xx, thrown errors, timeouts, Redis calls with failures, cold starts from new
 * versions and poisoned isolates) while a real Prometheus (Debian's `prometheus` package) scrapes
 * its `/metrics` every second with the rules loaded. Then every panel query, every dashboard
 * variable query and every rule expression goes through Prometheus' HTTP API: each must be valid
 * and return series, not all of them NaN (a quantile over a window without observations).
 * promtool checks the rules file and runs its unit tests (rules.test.yml).
 *
 * Grafana variables are substituted as Grafana would with every value selected: `$app` becomes
 * `(obs|demo)` from the variable's own `label_values(...)` query, `$__rate_interval` becomes 15s
 * (Grafana's max(4 × scrape interval, $__interval + scrape interval) is 4 s here; 15 s holds the
 * last 15 s of load, and Grafana's default for a 15 s scrape interval is 1m).
 * Queries are evaluated at the moment the load ended, so every window holds load.
 *
 * Alert expressions are conditions (`… > 0.05`) and are rightly empty when nothing is wrong. For
 * them the test runs the expression as written (it must be valid) and the expression with every
 * comparison made non-filtering by the `bool` modifier (`… > bool 0.05`), which keeps one series per
 * series of the left-hand side: that one must return series, so a rule watching a metric or label
 * that does not exist fails here instead of staying silent forever.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deploy, invoke, type Answer } from '../support/http.ts';
import { freePort } from '../support/free-port.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARDS = join(ROOT, 'charts/dashboards');
const RULES = join(ROOT, 'charts/prometheus/rules.yml');
const RULE_TESTS = join(ROOT, 'charts/prometheus/rules.test.yml');
const INSTALL_HINT = 'apt-get install prometheus (CI\'s .ci/run does this)';
const SCRAPE_INTERVAL_S = 1;
/** Grafana's global variables, as a dashboard with a 1-minute range and a 2 s step would get them. */
const GRAFANA_GLOBALS: Record<string, string> = {
  __rate_interval: '15s',
  __interval: '2s',
  __interval_ms: '2000',
  __range: '1m',
  __range_s: '60',
  __range_ms: '60000',
};
/** Metrics with an `app` label, and those that also have `function` (README, section "Metrics"). */
const APP_METRICS = ['faas_invocations_total', 'faas_invocation_duration_seconds', 'faas_invocation_cpu_seconds', 'faas_cold_starts_total', 'faas_cold_start_duration_seconds', 'faas_pool_queue_wait_seconds', 'faas_pool_isolates', 'faas_pool_heap_bytes', 'faas_builtin_duration_seconds', 'faas_builtin_errors_total'];
const FUNCTION_METRICS = ['faas_invocations_total', 'faas_invocation_duration_seconds', 'faas_invocation_cpu_seconds', 'faas_cold_starts_total', 'faas_cold_start_duration_seconds'];

// ------------------------------------------------------------------------------------------------
// Dashboards

interface Target { refId: string; expr?: string; datasource?: { type?: string; uid?: string } }
interface Panel { id: number; type: string; title: string; description?: string; datasource?: { type?: string; uid?: string }; gridPos: { x: number; y: number; w: number; h: number }; targets?: Target[]; panels?: Panel[] }
interface Variable { name: string; type: string; query?: string | { query?: string }; definition?: string; multi?: boolean; includeAll?: boolean; datasource?: { type?: string; uid?: string } }
interface Dashboard { file: string; uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

async function loadDashboards(): Promise<Dashboard[]> {
  const files = (await readdir(DASHBOARDS)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (file) => ({ ...JSON.parse(await readFile(join(DASHBOARDS, file), 'utf8')), file }) as Dashboard));
}

/** Every panel, rows' nested panels included. */
function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** The `label_values([selector, ]label)` of a query variable. */
function labelValuesQuery(v: Variable): { selector?: string; label: string } {
  const q = v.definition || (typeof v.query === 'string' ? v.query : v.query?.query) || '';
  const m = /^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?(\w+)\s*\)\s*$/.exec(q);
  assert.ok(m, `variable $${v.name}: only label_values(...) queries are supported here, got ${JSON.stringify(q)}`);
  return { selector: m[1], label: m[2] as string };
}

/**
 * Replace Grafana variables (`$x`, `${x}`, `${x:fmt}`, `[[x]]`) by `values` or GRAFANA_GLOBALS.
 * @throws Error naming the variable when it is unknown (a typo would otherwise reach Prometheus)
 */
function expand(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (all, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    const value = values[name] ?? GRAFANA_GLOBALS[name];
    if (value === undefined) throw new Error(`unknown variable ${all}`);
    return value;
  });
}

/** What Grafana puts in `=~"$var"` when every value is selected: `(v1|v2)`, regex-escaped. */
function multiValue(values: string[]): string {
  return `(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|')})`;
}

/** Make every comparison of a PromQL expression non-filtering: `a > 0.05` → `a > bool 0.05`. */
function nonFiltering(expr: string): string {
  let out = '';
  let braces = 0;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i] as string;
    if (ch === '"' || ch === '\'' || ch === '`') { // a string literal, copied as is
      let j = i + 1;
      while (j < expr.length && expr[j] !== ch) j += ch !== '`' && expr[j] === '\\' ? 2 : 1;
      out += expr.slice(i, j + 1);
      i = j;
      continue;
    }
    if (ch === '{') braces++;
    if (ch === '}') braces--;
    const op = braces === 0 ? /^(==|!=|>=|<=|>|<)/.exec(expr.slice(i))?.[0] : undefined;
    if (op === undefined) { out += ch; continue; }
    out += op;
    i += op.length - 1;
    if (!/^\s*bool\b/.test(expr.slice(i + 1))) out += ' bool';
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Prometheus and promtool

/** The path of `name` on PATH (or /usr/bin), else an Error that says how to install it. */
function binary(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin']) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} is not installed: ${INSTALL_HINT}`);
}

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

interface PromSample { metric: Record<string, string>; value: [number, string] }
type PromAnswer = { status: 'success'; data: { resultType: string; result: PromSample[] | [number, string] } } | { status: 'error'; errorType: string; error: string };

let promUrl = '';
async function promGet(path: string, params: Record<string, string | string[]> = {}): Promise<unknown> {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) search.append(k, one);
  const res = await fetch(`${promUrl}${path}?${search}`);
  return res.json();
}
/** An instant query at `time` (unix seconds). */
async function promQuery(query: string, time: number): Promise<PromAnswer> {
  const res = await fetch(`${promUrl}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query, time: String(time) }) });
  return (await res.json()) as PromAnswer;
}
/** Why an answer does not pass ("invalid: …", "no series", "only NaN"), or null when it does. */
function problem(answer: PromAnswer): string | null {
  if (answer.status !== 'success') return `invalid: ${answer.errorType}: ${answer.error}`;
  const { resultType, result } = answer.data;
  if (resultType === 'scalar' || resultType === 'string') return null;
  const series = result as PromSample[];
  if (series.length === 0) return 'no series';
  if (series.every((s) => s.value[1] === 'NaN')) return `only NaN in ${series.length} series`;
  return null;
}
async function scalarValue(query: string, time?: number): Promise<number> {
  const answer = await promQuery(query, time ?? Date.now() / 1000);
  if (answer.status !== 'success') throw new Error(`${query}: ${answer.error}`);
  const first = (answer.data.result as PromSample[])[0];
  return first === undefined ? Number.NaN : Number(first.value[1]);
}
async function waitFor(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ------------------------------------------------------------------------------------------------
// Static checks: no Prometheus needed

describe('dashboards and rules files', () => {
  test('every dashboard is Grafana JSON with a Prometheus datasource variable, multi-select query variables and described panels', async () => {
    const dashboards = await loadDashboards();
    assert.deepEqual(dashboards.map((d) => d.file), ['builtins.json', 'nodejs.json', 'overview.json', 'runtime.json']);
    assert.equal(new Set(dashboards.map((d) => d.uid)).size, dashboards.length, 'dashboard uids are unique');
    for (const d of dashboards) {
      assert.ok(d.schemaVersion >= 36 && d.schemaVersion <= 41, `${d.file}: schemaVersion ${d.schemaVersion}`);
      assert.ok(d.title.startsWith('FaaS / '), `${d.file}: title ${d.title}`);
      const vars = d.templating.list;
      const ds = vars.find((v) => v.type === 'datasource');
      assert.ok(ds !== undefined && ds.name === 'DS_PROMETHEUS' && ds.query === 'prometheus', `${d.file}: a datasource variable DS_PROMETHEUS of type prometheus`);
      for (const v of vars.filter((x) => x.type === 'query')) {
        assert.ok(v.multi === true && v.includeAll === true, `${d.file}: $${v.name} is multi-select with All`);
        assert.equal(v.datasource?.uid, '${DS_PROMETHEUS}', `${d.file}: $${v.name} datasource`);
        labelValuesQuery(v);
      }
      const ids = new Set<number>();
      for (const p of panelsOf(d)) {
        assert.ok(!ids.has(p.id), `${d.file}: panel id ${p.id} is unique`);
        ids.add(p.id);
        assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${d.file}: "${p.title}" fits in 24 columns`);
        if (p.type === 'row') continue;
        assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `${d.file}: "${p.title}" uses the datasource variable`);
        assert.ok((p.description ?? '').length > 20, `${d.file}: "${p.title}" has a description`);
        assert.ok((p.targets ?? []).length > 0, `${d.file}: "${p.title}" has targets`);
        for (const t of p.targets ?? []) {
          assert.ok((t.expr ?? '').trim() !== '', `${d.file}: "${p.title}" ${t.refId} has an expr`);
          assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', `${d.file}: "${p.title}" ${t.refId} datasource`);
        }
      }
    }
    const varNames = (file: string) => dashboards.find((d) => d.file === file)?.templating.list.filter((v) => v.type === 'query').map((v) => v.name);
    assert.deepEqual(varNames('overview.json'), ['app', 'function']);
    assert.deepEqual(varNames('runtime.json'), ['app', 'function']);
    assert.deepEqual(varNames('builtins.json'), ['app', 'builtin']);
  });

  test('every faas_* selector in a dashboard is filtered by that dashboard\'s $app and $function', async () => {
    const missing: string[] = [];
    for (const d of await loadDashboards()) {
      const vars = new Set(d.templating.list.map((v) => v.name));
      for (const p of panelsOf(d)) {
        for (const t of p.targets ?? []) {
          for (const m of (t.expr ?? '').matchAll(/\b(faas_[a-z_]+?)(_bucket|_count|_sum)?\b(\{[^}]*\})?/g)) {
            const [selector, metric, , labels = ''] = m as unknown as [string, string, string | undefined, string | undefined];
            const need = [
              ...(vars.has('app') && APP_METRICS.includes(metric) ? ['app=~"$app"'] : []),
              ...(vars.has('function') && FUNCTION_METRICS.includes(metric) ? ['function=~"$function"'] : []),
              ...(vars.has('builtin') && metric.startsWith('faas_builtin_') ? ['builtin=~"$builtin"'] : []),
            ];
            for (const n of need) if (!labels.includes(n)) missing.push(`${d.file} › "${p.title}": ${selector} lacks ${n}`);
          }
        }
      }
    }
    assert.deepEqual(missing, []);
  });

  test('promtool check rules accepts charts/prometheus/rules.yml', async () => {
    const r = await run(binary('promtool'), ['check', 'rules', RULES]);
    assert.equal(r.code, 0, `promtool check rules failed:\n${r.output}`);
    assert.match(r.output, /SUCCESS: \d+ rules found/);
  });

  test('the alert rules pass their promtool unit tests (charts/prometheus/rules.test.yml)', async () => {
    const r = await run(binary('promtool'), ['test', 'rules', RULE_TESTS]);
    assert.equal(r.code, 0, `promtool test rules failed:\n${r.output}`);
  });
});

// ------------------------------------------------------------------------------------------------
// Live: the platform under load, scraped by a real Prometheus

const APP = 'obs';
const OK = (n: number) => `import { HttpError } from 'faas';
export default async function (req) { if (req.query.bad) throw new HttpError(400, 'bad input', { code: 'BAD_INPUT' }); return { ok: true, build: ${n} }; }`;
const BOOM = `export default async function () { throw new Error('boom'); }`;
const COUNTER = (n: number) => `export default async function (req, ctx) {
  const hits = await ctx.redis.incr('hits');
  if (req.query.wrong) { try { await ctx.redis.hset('hits', 'f', 'v'); } catch (e) { return { error: e.code, build: ${n} }; } }
  return { hits, build: ${n} };
}`;
const SPIN = `export default async function () { for (;;) {} }`;
/** One round of the load: 20 requests, in this mix. */
const MIX: Array<[fn: string, path: string]> = [
  ...Array<[string, string]>(8).fill(['ok', '/']), ['ok', '/?bad=1'],
  ...Array<[string, string]>(3).fill(['boom', '/']),
  ...Array<[string, string]>(4).fill(['counter', '/']), ['counter', '/?wrong=1'],
  ['spin', '/'], ['live-stream', '/rooms/top?by=viewers'], ['ok', '/'],
];
const LOAD = { seconds: 8, maxRequests: 400, perSecond: 45, concurrency: 4 };

describe('dashboards and rules against a real Prometheus scraping the platform', () => {
  let p: TestPlatform | undefined;
  let prometheus: ChildProcess | undefined;
  let promLog = '';
  let tmp = '';
  /** Unix seconds at which the load ended: every query is evaluated there. */
  let evalTime = 0;
  const counts = { panels: 0, queries: 0, variables: 0, rules: 0 };

  before(async () => {
    const prometheusBin = binary('prometheus');
    binary('promtool');
    tmp = await mkdtemp(join(tmpdir(), 'faas-prometheus-'));
    p = await startPlatform();
    await deploy(p, APP, 'ok', OK(0));
    await deploy(p, APP, 'boom', BOOM);
    await deploy(p, APP, 'counter', COUNTER(0));
    await deploy(p, APP, 'spin', SPIN, { cpuTimeMs: 50 });

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const target = new URL(p.url).host;
    await writeFile(join(tmp, 'prometheus.yml'), [
      'global:',
      `  scrape_interval: ${SCRAPE_INTERVAL_S}s`,
      `  evaluation_interval: ${SCRAPE_INTERVAL_S}s`,
      'rule_files:',
      `  - ${JSON.stringify(RULES)}`,
      'scrape_configs:',
      '  - job_name: faas',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${JSON.stringify(target)}]`,
      '',
    ].join('\n'));
    prometheus = spawn(prometheusBin, [
      `--config.file=${join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => { promLog = (promLog + chunk.toString()).slice(-4000); };
    prometheus.stdout?.on('data', keep);
    prometheus.stderr?.on('data', keep);
    const exited = new Promise<never>((_, reject) => prometheus?.once('exit', (code) => reject(new Error(`prometheus exited (${code}):\n${promLog}`))));
    exited.catch(() => {});
    await Promise.race([exited, waitFor('Prometheus to scrape the platform', 15_000, async () => (await scalarValue('up{job="faas"}')) === 1)]);

    // The load: bounded in requests and seconds, paced, with new versions deployed along the way.
    const statuses = new Map<number, number>();
    const t0 = Date.now();
    let sent = 0;
    const worker = async () => {
      for (;;) {
        const i = sent++;
        const at = t0 + (i * 1000) / LOAD.perSecond;
        if (i >= LOAD.maxRequests || at > t0 + LOAD.seconds * 1000) return;
        await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
        const [fn, path] = MIX[i % MIX.length] as [string, string];
        const r: Answer = await invoke(p as TestPlatform, fn === 'live-stream' ? 'demo' : APP, fn, path);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    };
    const redeploy = async () => {
      for (let n = 1; n <= 3; n++) {
        await new Promise((r) => setTimeout(r, 2000));
        await deploy(p as TestPlatform, APP, 'ok', OK(n));
        if (n === 2) await deploy(p as TestPlatform, APP, 'counter', COUNTER(n));
      }
    };
    await Promise.all([...Array.from({ length: LOAD.concurrency }, worker), redeploy()]);
    evalTime = Date.now() / 1000;
    const seen = Object.fromEntries(statuses);
    for (const status of [200, 400, 500, 504]) assert.ok((statuses.get(status) ?? 0) > 0, `the load got ${status} answers: ${JSON.stringify(seen)}`);

    // Scrapes (and rule evaluations) past the end of the load.
    await waitFor('a scrape after the load', 10_000, async () => (await scalarValue('timestamp(up{job="faas"})')) >= evalTime + SCRAPE_INTERVAL_S);
    const scrapes = await scalarValue('count_over_time(up{job="faas"}[1m])', evalTime);
    assert.ok(scrapes >= 5, `Prometheus scraped the platform ${scrapes} times during the load`);
  });

  after(async () => {
    if (counts.queries + counts.rules > 0) console.log(`validated ${counts.queries} panel queries (${counts.panels} panels), ${counts.variables} variable queries and ${counts.rules} rules`);
    if (prometheus !== undefined && prometheus.exitCode === null && prometheus.signalCode === null) {
      const proc = prometheus;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(killer);
    }
    await p?.stop();
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  });

  /** Each dashboard's variables resolved like Grafana with every value selected: name → `(a|b)`. */
  const resolved = new Map<string, Promise<Record<string, string>>>();
  function variablesOf(d: Dashboard): Promise<Record<string, string>> {
    let r = resolved.get(d.file);
    if (r === undefined) {
      r = (async () => {
        const values: Record<string, string> = { DS_PROMETHEUS: 'prometheus' };
        for (const v of d.templating.list.filter((x) => x.type === 'query')) {
          const { selector, label } = labelValuesQuery(v);
          let found: string[];
          if (selector === undefined) {
            found = ((await promGet(`/api/v1/label/${label}/values`, { start: String(evalTime - 60), end: String(evalTime) })) as { data: string[] }).data;
          } else {
            const answer = (await promGet('/api/v1/series', { 'match[]': expand(selector, values), start: String(evalTime - 60), end: String(evalTime) })) as { status: string; error?: string; data: Array<Record<string, string>> };
            assert.equal(answer.status, 'success', `${d.file} › variable $${v.name}: ${selector}: ${answer.error}`);
            found = [...new Set(answer.data.map((s) => s[label]).filter((x): x is string => x !== undefined && x !== ''))].sort();
          }
          assert.ok(found.length > 0, `${d.file} › variable $${v.name}: label_values(${selector ?? ''}, ${label}) found no values`);
          values[v.name] = multiValue(found);
          counts.variables++;
        }
        return values;
      })();
      resolved.set(d.file, r);
    }
    return r;
  }

  test('every dashboard variable query finds values, and $app finds the apps that served the load', async () => {
    for (const d of await loadDashboards()) {
      const values = await variablesOf(d);
      if ('app' in values) assert.match(values.app as string, /\bobs\b/, `${d.file}: $app = ${values.app}`);
      if ('function' in values) for (const fn of ['ok', 'boom', 'counter', 'spin']) assert.match(values.function as string, new RegExp(`\\b${fn}\\b`), `${d.file}: $function = ${values.function}`);
    }
  });

  test('every dashboard panel query is valid and returns series from the scraped platform', async () => {
    const failures: string[] = [];
    for (const d of await loadDashboards()) {
      const values = await variablesOf(d);
      for (const panel of panelsOf(d)) {
        if (panel.type === 'row') continue;
        counts.panels++;
        for (const t of panel.targets ?? []) {
          const where = `${d.file} › "${panel.title}" (${t.refId})`;
          let query: string;
          try { query = expand(t.expr ?? '', values); } catch (e) { failures.push(`${where}: ${(e as Error).message} in ${t.expr}`); continue; }
          const why = problem(await promQuery(query, evalTime));
          counts.queries++;
          if (why !== null) failures.push(`${where}: ${why}\n    ${query}`);
        }
      }
    }
    assert.ok(counts.queries >= 40, `${counts.queries} panel queries`);
    assert.equal(failures.length, 0, `${failures.length} panel queries fail:\n${failures.join('\n')}`);
  });

  test('every alert rule is loaded, healthy and well labelled, and its expression (comparisons made non-filtering) returns series', async () => {
    const declared = [...(await readFile(RULES, 'utf8')).matchAll(/^\s*-\s*(?:alert|record):\s*(\S+)/gm)].map((m) => m[1] as string);
    interface Rule { name: string; query: string; type: string; health: string; lastError?: string; duration?: number; labels?: Record<string, string>; annotations?: Record<string, string>; lastEvaluation: string }
    let rules: Rule[] = [];
    await waitFor('Prometheus to evaluate every rule after the load', 10_000, async () => {
      const answer = (await promGet('/api/v1/rules')) as { data: { groups: Array<{ rules: Rule[] }> } };
      rules = answer.data.groups.flatMap((g) => g.rules);
      return rules.length === declared.length && rules.every((r) => r.health !== 'unknown' && Date.parse(r.lastEvaluation) / 1000 > evalTime);
    });
    assert.deepEqual(rules.map((r) => r.name).sort(), [...declared].sort(), 'Prometheus loaded every rule of rules.yml');
    const failures: string[] = [];
    for (const r of rules) {
      if (r.health !== 'ok') failures.push(`${r.name}: health ${r.health}: ${r.lastError}`);
      if (r.type === 'alerting') {
        if (!((r.duration ?? 0) > 0)) failures.push(`${r.name}: no "for"`);
        if (!['critical', 'warning', 'info'].includes(r.labels?.severity ?? '')) failures.push(`${r.name}: severity label ${r.labels?.severity}`);
        if (!r.annotations?.summary || !r.annotations?.description) failures.push(`${r.name}: summary and description annotations`);
      }
      const asWritten = await promQuery(r.query, evalTime);
      if (asWritten.status !== 'success') failures.push(`${r.name}: invalid: ${asWritten.error}\n    ${r.query}`);
      const lhs = nonFiltering(r.query);
      const why = problem(await promQuery(lhs, evalTime));
      counts.rules++;
      if (why !== null) failures.push(`${r.name}: ${why}\n    ${lhs}`);
    }
    assert.equal(failures.length, 0, `${failures.length} rule problems:\n${failures.join('\n')}`);
  });
});
