import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Configuration } from './configurations.ts';
import type { LoadResult } from './load.ts';
import type { BenchParams } from './params.ts';

/** One configuration's outcome. */
export interface Measurement {
  configuration: Configuration;
  load: LoadResult;
  /** Whether a response fetched before the load equalled the baseline's body. */
  matchesBaseline: boolean;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}` };
}

/** The parameters worth printing and keeping; the database URL is left out (it may hold a password). */
export function describeParams(params: BenchParams, query: string): Record<string, string | number> {
  return { products: params.products, seconds: params.seconds, connections: params.connections, query };
}

/** A fixed-width table; ratio is req/s relative to the first (baseline) measurement. */
export function formatTable(measurements: readonly Measurement[]): string {
  const baseline = measurements[0]?.load.requestsPerSecond ?? 0;
  const header = ['configuration', 'CACHE_TIERS', 'req/s', 'p50 ms', 'p99 ms', 'errors/non-2xx', 'bad bodies', 'vs off'];
  const rows = measurements.map(({ configuration, load }) => [
    configuration.name,
    configuration.cacheTiers === '' ? "''" : configuration.cacheTiers,
    load.requestsPerSecond.toFixed(1),
    String(load.p50Ms),
    String(load.p99Ms),
    `${load.errors}/${load.non2xx}`,
    String(load.mismatches),
    baseline > 0 ? `${(load.requestsPerSecond / baseline).toFixed(2)}x` : 'n/a',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  // Text columns align left, numbers right.
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Writes the machine-readable report (reports/ is gitignored). */
export async function writeJsonReport(
  file: string,
  machine: Machine,
  parameters: Record<string, string | number>,
  measurements: readonly Measurement[],
): Promise<void> {
  const baseline = measurements[0]?.load.requestsPerSecond ?? 0;
  const report = {
    generatedAt: new Date().toISOString(),
    machine,
    parameters,
    results: measurements.map(({ configuration, load, matchesBaseline }) => ({
      configuration: configuration.name,
      cacheTiers: configuration.cacheTiers,
      ...load,
      ratioToBaseline: baseline > 0 ? load.requestsPerSecond / baseline : null,
      matchesBaseline,
    })),
  };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}
