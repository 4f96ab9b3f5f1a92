import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BenchParams } from './params.ts';

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
export function describeParams(params: BenchParams): Record<string, string | number> {
  const { serverUrl: _serverUrl, redisUrl: _redisUrl, ...rest } = params;
  return rest;
}

/**
 * A fixed-width table: the first `textColumns` columns align left, the others (numbers) right.
 * Every section's summary is one of these.
 */
export function formatColumns(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i < textColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Writes a machine-readable report (reports/ is gitignored): when, where and with what it was measured, then `body`. */
export async function writeJsonReport(file: string, machine: Machine, parameters: Record<string, string | number>, body: Record<string, unknown>): Promise<void> {
  const report = { generatedAt: new Date().toISOString(), machine, parameters, ...body };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}

/** Milliseconds with two decimals; '-' for a figure that could not be measured. */
export function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '-';
}
