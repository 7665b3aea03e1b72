import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { BotMetrics } from '../../src/ops/metrics.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

const dashboard = JSON.parse(await readFile(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: { uid: string } }> };
};
const queried = dashboard.panels.filter((panel) => panel.type !== 'row');
const expressions = queried.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));

/** PromQL words that are not series: aggregations' grouping keywords and the set operators. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/**
 * The series names a PromQL expression reads. Label matchers, ranges and grouping label lists
 * go first (they hold label names and Grafana's variables), then function names (followed by a
 * parenthesis) and numbers; what is left is metric names.
 */
function seriesIn(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/[a-zA-Z_:][\w:]*\s*\(/g, '(')
    .replace(/\b\d+(\.\d+)?\b/g, ' ');
  return (bare.match(/[a-zA-Z_:][\w:]*/g) ?? []).filter((word) => !KEYWORDS.has(word));
}

/** Every series name a scrape of a real BotMetrics can hold: histograms' and summaries' parts included. */
async function exposedNames(): Promise<{ names: Set<string>; own: string[] }> {
  const metrics = new BotMetrics({ jobsByState: () => ({}), queueLength: () => 0, breakerState: () => 'closed' });
  const names = new Set<string>();
  const own: string[] = [];
  for (const { name, type } of await metrics.registry.getMetricsAsJSON()) {
    // prom-client's types say an enum; at run time it is the exposition format's word.
    const kind = String(type as unknown);
    const suffixes = kind === 'histogram' ? ['_bucket', '_sum', '_count'] : kind === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const suffix of suffixes) names.add(`${name}${suffix}`);
    if (/^(pika|discord)_/.test(name)) own.push(name);
  }
  return { names, own };
}

describe('the Grafana dashboard (docs/grafana-dashboard.json)', () => {
  test('is an importable dashboard whose every query goes to the chosen Prometheus', () => {
    assert.ok(dashboard.schemaVersion >= 36, 'a schema current Grafana reads without migrating');
    assert.equal(dashboard.uid, 'pika-discord');
    const source = dashboard.templating.list.find((variable) => variable.type === 'datasource');
    assert.deepEqual([source?.name, source?.query], ['datasource', 'prometheus'], 'the operator picks their Prometheus on import');
    const ids = dashboard.panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const panel of queried) {
      assert.equal(panel.datasource?.uid, '${datasource}', `${panel.title}: the chosen Prometheus`);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title}: has a query`);
      for (const target of panel.targets!) {
        assert.equal(target.datasource?.uid, '${datasource}', `${panel.title} ${target.refId}`);
        assert.ok(target.expr.trim(), `${panel.title} ${target.refId}: an expression`);
      }
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) assert.equal(variable.datasource?.uid, '${datasource}');
  });

  test('reads only series the bot exposes (checked against a real BotMetrics registry)', async () => {
    const { names } = await exposedNames();
    const used = new Set<string>();
    for (const { panel, expr } of expressions) {
      const series = seriesIn(expr);
      assert.ok(series.length > 0, `${panel}: no series found in ${expr}`);
      for (const name of series) {
        assert.ok(names.has(name), `${panel}: ${name} is not a metric the bot exposes (in ${expr})`);
        used.add(name);
      }
    }
    const variables = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => String((v.query as { query?: string }).query ?? v.query));
    for (const query of variables) for (const name of seriesIn(query.replace(/^label_values\((.*),\s*\w+\)$/, '$1'))) assert.ok(names.has(name), `variable query ${query}`);
    // What the issue asks an operator to see, by name.
    for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds', 'pika_queue_length', 'pika_queue_wait_seconds_bucket', 'pika_store_operation_seconds_bucket']) {
      assert.ok(used.has(name), `a panel shows ${name}`);
    }
  });

  test('shows every metric of the bot’s own, so a new one cannot be left off', async () => {
    const { own } = await exposedNames();
    const text = expressions.map(({ expr }) => expr).join('\n');
    for (const name of own) assert.match(text, new RegExp(`\\b${name}(_bucket|_sum|_count)?\\b`), `${name} has a panel`);
  });

  test('reading series out of PromQL', () => {
    assert.deepEqual(seriesIn('histogram_quantile(0.95, sum by (le, operation) (rate(pika_store_operation_seconds_bucket{job=~"$job"}[$__rate_interval])))'), ['pika_store_operation_seconds_bucket']);
    assert.deepEqual(seriesIn('max by (instance) (a{state="open"}) + 2 * max by (instance) (b_total)'), ['a', 'b_total']);
    assert.deepEqual(seriesIn('sum(rate(x[5m])) / ignoring (outcome) sum(rate(y[5m]))'), ['x', 'y']);
  });
});
