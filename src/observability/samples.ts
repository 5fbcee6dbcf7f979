/**
 * Metrics that a feature computes at scrape time (notification queues, for instance) without
 * registering anything in prom-client: plain samples, rendered in the Prometheus text format after
 * the registry's own metrics.
 */
export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labels: Record<string, string>;
  value: number;
}

export interface MetricSource {
  samples(): MetricSample[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Render samples grouped by metric name, each group with its HELP and TYPE lines. */
export function renderSamples(samples: MetricSample[]): string {
  const byName = new Map<string, MetricSample[]>();
  for (const s of samples) {
    const group = byName.get(s.name);
    if (group) group.push(s);
    else byName.set(s.name, [s]);
  }
  let out = '';
  for (const [name, group] of byName) {
    const first = group[0]!;
    out += `# HELP ${name} ${first.help.replace(/\n/g, ' ')}\n# TYPE ${name} ${first.type}\n`;
    for (const s of group) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      out += `${name}${labels ? `{${labels}}` : ''} ${Number.isFinite(s.value) ? s.value : 0}\n`;
    }
  }
  return out;
}
