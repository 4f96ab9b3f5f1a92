/**
 * Capturing a server's JSON log lines (pino, one object a line), for the tests, in process or as a
 * child, and for the bench.
 */
export interface LogLine {
  readonly level: number;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The line as a log object, or undefined when it is not one of pino's lines. */
export function parseLogLine(line: string): LogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as Partial<LogLine>;
    return typeof parsed.msg === 'string' && typeof parsed.level === 'number' ? (parsed as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A consumer of a stream's chunks that appends each of pino's lines to `logs` and hands any other
 * non-blank line to `otherLine`. A line split across chunks waits for its end.
 */
export function logLineCollector(logs: LogLine[], otherLine: (line: string) => void = () => {}): (chunk: string | Buffer) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = parseLogLine(line);
      if (parsed) logs.push(parsed);
      else if (line.trim() !== '') otherLine(line);
    }
  };
}
