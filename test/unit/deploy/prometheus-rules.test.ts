import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../../src/metrics/index.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Groups {
  groups: Array<{ name: string; rules: Rule[] }>;
}

const FILE = 'config/prometheus/credproxy.rules.yml';
const rules = parseYaml(readFileSync(FILE, 'utf8')) as Groups;
const alerts = rules.groups.flatMap((g) => g.rules);
const promtool = spawnSync('promtool', ['--version']).error === undefined;
const noPromtool = promtool ? false : 'promtool is not installed (apt-get install prometheus; .ci/run installs it)';
// In CI nothing skips: .ci/run installs Debian's prometheus package, which provides promtool.
if (noPromtool && process.env.CI === 'true') throw new Error(noPromtool);

test('promtool check rules accepts the alert rules', { skip: noPromtool }, () => {
  const run = spawnSync('promtool', ['check', 'rules', FILE], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

test('promtool test rules: the alerts fire on the series of credproxy.rules.test.yml, and only then', { skip: noPromtool }, () => {
  const run = spawnSync('promtool', ['test', 'rules', 'config/prometheus/credproxy.rules.test.yml'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

test('every rule is an alert with a for:, a severity, a summary and a description', () => {
  assert.ok(alerts.length >= 8);
  for (const rule of alerts) {
    assert.match(rule.alert ?? '', /^Credproxy[A-Z]\w+$/, `${rule.alert ?? rule.record}: an alert named Credproxy…`);
    assert.match(rule.for ?? '', /^\d+[smh]$/, `${rule.alert}: for:`);
    assert.ok(['critical', 'warning'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity critical or warning`);
    assert.ok((rule.annotations?.summary ?? '').length > 10, `${rule.alert}: summary`);
    assert.ok((rule.annotations?.description ?? '').length > 40, `${rule.alert}: a description that says what to do`);
  }
});

test("every metric the rules read is one credproxy exports (or Prometheus's up)", () => {
  const metrics = createMetrics({ readiness: () => ({ proxy: true, audit: true }) });
  try {
    for (const rule of alerts) {
      for (const name of rule.expr.match(/\b(?:credproxy|process|nodejs)_[a-z0-9_]+/g) ?? []) {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        assert.ok(metrics.registry.getSingleMetric(base) ?? metrics.registry.getSingleMetric(name), `${rule.alert}: ${name} is exported`);
      }
    }
  } finally {
    metrics.registry.clear();
  }
});

test('the kubernetes PrometheusRule holds exactly these groups', () => {
  const resource = parseYaml(readFileSync('examples/kubernetes/monitoring/prometheus-rule.yaml', 'utf8')) as { kind: string; spec: Groups };
  assert.equal(resource.kind, 'PrometheusRule');
  assert.deepEqual(resource.spec.groups, rules.groups);
});
