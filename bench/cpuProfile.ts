// Where a server's CPU time goes, read from the .cpuprofile that `node --cpu-prof` writes at exit: self
// time per function (the time a function itself was on the stack top, not its callees), over a window
// of the run, so the server's startup does not count.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of V8's profile format (the DevTools Protocol's `Profiler.Profile`) this reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds, on the monotonic clock of `process.hrtime` (CLOCK_MONOTONIC on Linux, in both processes). */
  startTime: number;
  endTime: number;
  /** The id of the node on the stack top at each sample. */
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

/** A stretch of the profiled run, in microseconds on the clock of {@link CpuProfile.startTime}. */
export interface SampleWindow {
  fromMicros: number;
  toMicros: number;
}

/** One function's self time. */
export interface SelfTime {
  functionName: string;
  /** `src/cache/readThrough.ts:120`, `node:internal/http:45`, `node_modules/graphql/execution/execute.js:300`, or a V8 pseudo-frame's name. */
  location: string;
  /** Where it lives at a coarser grain: `src/cache`, `graphql`, `node:internal`, `(garbage collector)`. */
  area: string;
  ms: number;
  /** Of the busy time (everything but idle), 0..1. */
  share: number;
}

export interface SelfTimeSummary {
  /** Every function, most self time first. */
  functions: SelfTime[];
  /** Self time summed per {@link SelfTime.area}, most first. */
  areas: { area: string; ms: number; share: number }[];
  /** Sampled time that was not idle, in ms. */
  busyMs: number;
  /** Sampled time with the thread idle (waiting on I/O), in ms. */
  idleMs: number;
  samples: number;
  /** False when no sample fell in the window asked for, so the whole profile was summarised instead. */
  windowed: boolean;
}

/**
 * Reads the main thread's profile from `directory` (where `--cpu-prof-dir` pointed one process). Node
 * writes one file per thread, `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`; with `--import tsx`
 * there is a second, of the module-hooks worker, which serves no request.
 */
export async function readCpuProfile(directory: string): Promise<CpuProfile> {
  const mainThread = (await readdir(directory)).filter((name) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(name));
  if (mainThread.length !== 1) throw new Error(`expected one main-thread .cpuprofile in ${directory}, found ${mainThread.length}`);
  return JSON.parse(await readFile(path.join(directory, mainThread[0] as string), 'utf8')) as CpuProfile;
}

/**
 * Self time per function over the samples taken in `window` (all of them without one). Each sample
 * stands for the time until the next, as in DevTools; the same function reached through different
 * callers is one row.
 */
export function summariseSelfTime(profile: CpuProfile, repoRoot: string, window?: SampleWindow): SelfTimeSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const sources = new SourceLines();
  const sampled = sampleDurations(profile);
  const inWindow = window ? sampled.filter((s) => s.atMicros >= window.fromMicros && s.atMicros <= window.toMicros) : sampled;
  const windowed = window !== undefined && inWindow.length > 0;
  const samples = windowed ? inWindow : sampled;

  const byFunction = new Map<string, { functionName: string; location: string; area: string; micros: number }>();
  let idleMicros = 0;
  for (const { nodeId, micros } of samples) {
    const frame = frames.get(nodeId);
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idleMicros += micros;
      continue;
    }
    const place = placeOf(frame, repoRoot, sources);
    const key = `${frame.functionName}@${place.location}:${frame.columnNumber}`;
    const row = byFunction.get(key) ?? { functionName: frame.functionName || '(anonymous)', ...place, micros: 0 };
    row.micros += micros;
    byFunction.set(key, row);
  }

  const busyMicros = [...byFunction.values()].reduce((sum, row) => sum + row.micros, 0);
  const share = (micros: number) => (busyMicros > 0 ? micros / busyMicros : 0);
  const functions = [...byFunction.values()]
    .sort((a, b) => b.micros - a.micros)
    .map((row) => ({ functionName: row.functionName, location: row.location, area: row.area, ms: row.micros / 1000, share: share(row.micros) }));
  const areaMicros = new Map<string, number>();
  for (const row of byFunction.values()) areaMicros.set(row.area, (areaMicros.get(row.area) ?? 0) + row.micros);
  const areas = [...areaMicros].sort((a, b) => b[1] - a[1]).map(([area, micros]) => ({ area, ms: micros / 1000, share: share(micros) }));
  return { functions, areas, busyMs: busyMicros / 1000, idleMs: idleMicros / 1000, samples: samples.length, windowed };
}

// Private:

/** Each sample's node, time and duration (the gap to the next sample; the last gets the mean gap). */
function sampleDurations(profile: CpuProfile): { nodeId: number; atMicros: number; micros: number }[] {
  const { samples, timeDeltas } = profile;
  const meanGap = samples.length > 0 ? (profile.endTime - profile.startTime) / samples.length : 0;
  let at = profile.startTime;
  return samples.map((nodeId, i) => {
    at += timeDeltas[i] ?? 0;
    return { nodeId, atMicros: at, micros: timeDeltas[i + 1] ?? meanGap };
  });
}

/** Where a frame is, as a reader of this repository would look for it; line numbers are 1-based. */
function placeOf(frame: ProfileNode['callFrame'], repoRoot: string, sources: SourceLines): { location: string; area: string } {
  let line: number | undefined = frame.lineNumber + 1;
  // No script: V8's pseudo-frames, (program) and (garbage collector), or a builtin such as JSON.stringify.
  if (frame.url === '') {
    const pseudo = frame.functionName.startsWith('(') ? frame.functionName : '(native)';
    return { location: pseudo, area: pseudo };
  }
  if (frame.url.startsWith('node:')) return { location: `${frame.url}:${line}`, area: frame.url.startsWith('node:internal') ? 'node:internal' : frame.url };
  const file = frame.url.startsWith('file:') ? fileURLToPath(frame.url) : frame.url;
  // tsx compiles TypeScript with minified white space: the profile's line is that of one long line.
  if (/\.[cm]?ts$/.test(file)) line = sources.declarationLine(file, frame.functionName);
  const at = line === undefined ? '' : `:${line}`;
  const relative = path.relative(repoRoot, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return { location: `${file}${at}`, area: file };
  return { location: `${relative}${at}`, area: areaOf(relative) };
}

/** The lines of the source files the profile names, each read once. */
class SourceLines {
  private readonly files = new Map<string, readonly string[]>();

  /**
   * The 1-based line where `functionName` is declared in `file`, found by name: a `function`, a
   * function assigned to a name, or a method whose line opens its body. A method head that spans
   * lines counts only when nothing more certain matches. Undefined for an anonymous function, or for
   * a name declared more than once.
   */
  declarationLine(file: string, functionName: string): number | undefined {
    if (!/^[A-Za-z_$][\w$]*$/.test(functionName)) return undefined;
    const lines = this.read(file);
    const name = functionName.replace(/\$/g, '\\$');
    const modifiers = '(?:(?:public|private|protected|static|async|override|readonly|get|set)\\s+)*';
    const certain = new RegExp(
      `\\bfunction\\s*\\*?\\s*${name}\\s*[<(]|\\b${name}\\s*[=:]\\s*(?:async\\s*)?(?:function\\b|\\([^)]*\\)\\s*(?::[^=]+)?=>|[A-Za-z_$][\\w$]*\\s*=>)|^\\s*${modifiers}\\*?${name}\\s*[<(].*\\{\\s*$`,
    );
    const methodHead = new RegExp(`^\\s*${modifiers}\\*?${name}\\s*[<(][^;]*$`);
    for (const pattern of [certain, methodHead]) {
      const found = lines.flatMap((text, i) => (pattern.test(text) ? [i + 1] : []));
      if (found.length > 0) return found.length === 1 ? found[0] : undefined;
    }
    return undefined;
  }

  private read(file: string): readonly string[] {
    let lines = this.files.get(file);
    if (lines === undefined) {
      try {
        lines = readFileSync(file, 'utf8').split('\n');
      } catch {
        lines = [];
      }
      this.files.set(file, lines);
    }
    return lines;
  }
}

/** `node_modules/@apollo/server/...` -> `@apollo/server`; `src/cache/tiers/x.ts` -> `src/cache`. */
function areaOf(relative: string): string {
  const parts = relative.split(path.sep);
  const modules = parts.lastIndexOf('node_modules');
  if (modules >= 0) {
    const name = parts[modules + 1] ?? '';
    return name.startsWith('@') ? `${name}/${parts[modules + 2] ?? ''}` : name;
  }
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : (parts[0] ?? relative);
}
