/** One sample of the Prometheus text format: its metric name, labels and value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text exposition format (what GET /metrics answers); comments are skipped. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function sumOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** GET /metrics of a running app, parsed. */
export async function scrape(url: string, path = '/metrics'): Promise<Sample[]> {
  const response = await fetch(`${url}${path}`);
  if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** Scrapes until `ready` holds, for at most `ms`; returns the last scrape (the caller's expect then says what is missing). */
export async function scrapeUntil(url: string, ready: (samples: Sample[]) => boolean, ms = 3000): Promise<Sample[]> {
  const deadline = performance.now() + ms;
  let samples = await scrape(url);
  while (!ready(samples) && performance.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
    samples = await scrape(url);
  }
  return samples;
}
