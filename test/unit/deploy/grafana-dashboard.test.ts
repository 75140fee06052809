import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { createMetrics } from '../../../src/metrics/index.js';

/** docs/contract.md#metrics, plus the audit-drop counter the queue exposes and prom-client's default metrics. */
const CONTRACT_METRICS = [
  'credproxy_requests_total',
  'credproxy_request_duration_seconds',
  'credproxy_upstream_duration_seconds',
  'credproxy_proxy_overhead_seconds',
  'credproxy_injections_total',
  'credproxy_rejections_total',
  'credproxy_active_tunnels',
  'credproxy_cert_cache_total',
  'credproxy_audit_queue_depth',
];
const EXTRA_METRICS = [
  'credproxy_audit_dropped_total',
  'credproxy_upstream_responses_total',
  'credproxy_tunnels_total',
  'credproxy_client_tls_failures_total',
  'credproxy_client_bytes_total',
  'credproxy_upstream_bytes_total',
  'credproxy_cert_mint_duration_seconds',
  'credproxy_cert_mint_errors_total',
  'credproxy_ready',
  'credproxy_build_info',
];
const DEFAULT_METRICS = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds'];
/** The request histograms, each with p50/p95/p99 panels. */
const HISTOGRAMS = new Set(['credproxy_request_duration_seconds', 'credproxy_upstream_duration_seconds', 'credproxy_proxy_overhead_seconds']);
const ALL_HISTOGRAMS = new Set([...HISTOGRAMS, 'credproxy_cert_mint_duration_seconds']);

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { uid: string };
}
interface Dashboard {
  __inputs?: unknown;
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync('config/grafana/credproxy.json', 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, ...t })));

/** Metric names a PromQL expression reads, with histogram series suffixes folded onto the histogram. */
function metricsOf(expr: string): string[] {
  const names = expr.match(/\b(?:credproxy|process|nodejs)_[a-z0-9_]+/g) ?? [];
  return names.map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return ALL_HISTOGRAMS.has(base) ? base : n;
  });
}

test('the dashboard picks its Prometheus with a datasource variable, so it can be imported or provisioned from a file', () => {
  assert.ok(dashboard.schemaVersion >= 36, 'schemaVersion is recent');
  assert.equal(dashboard.uid, 'credproxy');
  // Provisioning from a file leaves ${DS_…} inputs unresolved; a datasource variable works both ways.
  assert.equal(dashboard.__inputs, undefined);
  const [datasource] = dashboard.templating.list;
  assert.deepEqual([datasource!.name, datasource!.type, datasource!.query], ['datasource', 'datasource', 'prometheus']);
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const q of queries) {
    assert.equal(q.panel.datasource?.uid, '${datasource}', `panel "${q.panel.title}" uses the datasource variable`);
    assert.equal(q.datasource?.uid, '${datasource}', `a query of "${q.panel.title}" uses the datasource variable`);
  }
});

test('namespace, pod and instance variables narrow every query', () => {
  const variables = dashboard.templating.list.slice(1);
  assert.deepEqual(
    variables.map((v) => v.name),
    ['namespace', 'pod', 'instance'],
  );
  for (const v of variables) assert.equal(v.datasource?.uid, '${datasource}', `${v.name} is read from the chosen Prometheus`);
  for (const q of queries) {
    for (const selector of metricsOf(q.expr).length > 0 ? (q.expr.match(/\{[^}]*\}/g) ?? []) : []) {
      assert.match(selector, /namespace=~"\$namespace", pod=~"\$pod", instance=~"\$instance"/, `"${q.panel.title}": ${selector}`);
    }
    assert.ok(/\{/.test(q.expr), `"${q.panel.title}" has a selector`);
  }
});

test('every metric the dashboard queries exists, and every contract metric is on it', () => {
  const known = new Set([...CONTRACT_METRICS, ...EXTRA_METRICS, ...DEFAULT_METRICS]);
  const used = new Set(queries.flatMap((q) => metricsOf(q.expr)));
  for (const name of used) assert.ok(known.has(name), `${name} is a metric credproxy exposes`);
  for (const name of [...CONTRACT_METRICS, ...EXTRA_METRICS]) assert.ok(used.has(name), `${name} has a panel`);
});

test('every metric the dashboard queries is registered by the metrics catalogue, with the labels it groups by', () => {
  const metrics = createMetrics({ readiness: () => ({ proxy: true, audit: true }) });
  try {
    // prom-client keeps a metric's declared label names on the metric object.
    const labelsOf = (name: string): string[] | undefined =>
      (metrics.registry.getSingleMetric(name) as unknown as { labelNames: string[] } | undefined)?.labelNames;
    for (const q of queries) {
      const used = metricsOf(q.expr);
      for (const name of used) assert.ok(labelsOf(name), `${name} is registered`);
      const grouped = [...q.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()));
      for (const label of grouped.filter((l) => l !== 'le' && l !== 'instance')) {
        assert.ok(
          used.some((name) => labelsOf(name)!.includes(label)),
          `"${q.panel.title}" groups by ${label}, a label of ${used.join(', ')}`,
        );
      }
    }
  } finally {
    metrics.registry.clear();
  }
});

test('the panels the operator guide names are there', () => {
  const exprs = queries.map((q) => q.expr.replace(/\{[^}]*\}/g, '').replace(/\s+/g, ' '));
  assert.ok(
    exprs.some((e) => e.includes('sum by (outcome) (rate(credproxy_requests_total[')),
    'request rate by outcome',
  );
  assert.ok(
    exprs.some((e) => e.includes('sum by (reason) (rate(credproxy_rejections_total[')),
    'rejections by reason',
  );
  assert.ok(
    exprs.some((e) => e.includes('sum by (secret, auth_type) (rate(credproxy_injections_total[')),
    'injections by secret and auth type',
  );
  for (const histogram of HISTOGRAMS) {
    for (const q of ['0.5', '0.95', '0.99']) {
      assert.ok(
        exprs.some((e) => e.startsWith(`histogram_quantile(${q}, sum by (le) (rate(${histogram}_bucket[`)),
        `p${Number(q) * 100} of ${histogram}`,
      );
    }
  }
});

test('every query is valid PromQL (promtool check rules, when promtool is installed)', (t) => {
  if (spawnSync('promtool', ['--version']).error) {
    t.skip('promtool is not installed (.ci/run installs it)');
    return;
  }
  // Grafana's variables become what Grafana substitutes at query time.
  const rules = queries.map((q, i) => ({
    record: `credproxy:dashboard_query_${i}`,
    expr: q.expr.replaceAll('$__rate_interval', '1m').replace(/\$(namespace|pod|instance)\b/g, '.*'),
  }));
  const dir = mkdtempSync(join(tmpdir(), 'credproxy-dashboard-'));
  try {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, toYaml({ groups: [{ name: 'dashboard', rules }] }));
    const run = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
