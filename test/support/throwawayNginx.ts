import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.ts';

/** The deployed CDN configuration; a throwaway nginx runs it with only its addresses and paths changed. */
export const DEPLOYED_NGINX_CONF = path.resolve(import.meta.dirname, '../../deploy/nginx/nginx.conf');

export interface ThrowawayNginxOptions {
  /** The origins' base URLs (`http://127.0.0.1:4000`), one per `server` line of the deployed upstream, in order. */
  upstreams: readonly string[];
}

/** One line of the access log (the deployed `cache` log_format). */
export interface AccessLogLine {
  time: number;
  /** Method and URI: `GET /graphql?query=...`. */
  request: string;
  status: number;
  /** $upstream_cache_status: HIT, MISS, EXPIRED, STALE, UPDATING, REVALIDATED, BYPASS, or "" when not cached at all (POST). */
  cache: string;
  /** The origin that answered (`127.0.0.1:port`), "" when the cache did. */
  upstream: string;
  upstream_status: string;
}

/**
 * An nginx of the test's own running deploy/nginx/nginx.conf on a free loopback port, in front of
 * the given origins, with its cache, temp files, access log and pid in a temporary directory. There
 * is no fallback: without nginx the start fails, naming what to install.
 */
export class ThrowawayNginx {
  private stderr = '';

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly process: ChildProcess,
  ) {}

  static async start(options: ThrowawayNginxOptions): Promise<ThrowawayNginx> {
    const binary = findNginx();
    const port = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'nginx-cdn-'));
    // Started as root, nginx runs its workers as an unprivileged user, who must reach the cache
    // directory nginx creates (and hands over) inside this one.
    await chmod(dir, 0o755);
    const config = throwawayNginxConfig(await readFile(DEPLOYED_NGINX_CONF, 'utf8'), { port, upstreams: options.upstreams, dir });
    const configPath = path.join(dir, 'nginx.conf');
    await writeFile(configPath, config);

    // detached: its own process group, so that a master that has to be killed takes its workers along.
    const child = spawn(binary, ['-p', `${dir}/`, '-c', configPath, '-e', 'stderr', '-g', `daemon off; pid ${dir}/nginx.pid;`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    const nginx = new ThrowawayNginx(port, dir, child);
    nginx.collectErrorLog();
    try {
      await nginx.waitUntilAnswering();
    } catch (error) {
      await nginx.stop();
      throw error;
    }
    return nginx;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every access log line so far, background revalidations (subrequests) included. */
  async accessLog(): Promise<AccessLogLine[]> {
    const text = await readFile(path.join(this.dir, ACCESS_LOG), 'utf8').catch(() => '');
    // Only whole lines: the last piece is empty, or a line nginx is still writing.
    return text
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line) as AccessLogLine);
  }

  /**
   * The first access log line `match` accepts, waiting for it up to `timeoutMs`: nginx logs a request
   * after answering it, and a background revalidation after the response it refreshes.
   */
  async waitForLogLine(match: (line: AccessLogLine) => boolean, timeoutMs = 5000): Promise<AccessLogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const log = await this.accessLog();
      const line = log.find(match);
      if (line) return line;
      if (Date.now() > deadline) throw new Error(`no such nginx access log line in ${timeoutMs} ms; the log:\n${log.map((l) => JSON.stringify(l)).join('\n')}`);
      await sleep(50);
    }
  }

  /** SIGQUIT (finish requests in flight), SIGKILL to the group after 5 s; then removes the directory. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGQUIT');
      const timer = setTimeout(() => killGroup(child), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  // Private:

  private collectErrorLog(): void {
    this.process.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.process.once('error', (error) => (this.stderr += `${error.message}\n`));
  }

  /** Any HTTP answer will do (the origins are checked by their own harness): nginx is listening. */
  private async waitUntilAnswering(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null || this.process.pid === undefined) throw new Error(`nginx exited (${this.process.exitCode}) before it answered:\n${this.stderr}`);
      const response = await fetch(`${this.url}/health/live`).catch(() => undefined);
      if (response) {
        await response.arrayBuffer();
        return;
      }
      await sleep(50);
    }
    throw new Error(`nginx on ${this.url} did not answer in 10 s:\n${this.stderr}`);
  }
}

/**
 * The deployed configuration as a throwaway instance runs it: listening on 127.0.0.1:`port`, the
 * upstream's `server` lines pointing at `upstreams` (their parameters kept), the cache, the temp
 * files and the access log under `dir`. Everything else, every cache directive included, is the deployed file's. Throws,
 * naming the directive, if the deployed file no longer has the shape this relies on.
 */
export function throwawayNginxConfig(deployed: string, local: { port: number; upstreams: readonly string[]; dir: string }): string {
  let config = replaceExactlyOnce(deployed, /^(\s*)listen\s+[^;]+;/m, `$1listen 127.0.0.1:${local.port};`, 'one `listen` directive');
  config = replaceExactlyOnce(config, /^(\s*proxy_cache_path\s+)\S+/m, `$1${local.dir}/cache`, 'one `proxy_cache_path` directive');
  // A file, not /dev/stdout: Node's child stdio is a socket, which cannot be opened by that name.
  config = replaceExactlyOnce(config, /^(\s*access_log\s+)\S+/m, `$1${local.dir}/${ACCESS_LOG}`, 'one `access_log` directive');
  config = replaceExactlyOnce(config, /^\s*upstream\s+api\s*\{[^}]*\}/m, (block) => withUpstreams(block, local.upstreams), 'one `upstream api { ... }` block');
  // The build's temp paths (/var/lib/nginx/... on Debian) may not be writable, or are another nginx's.
  const tempPaths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${local.dir}/${kind}_temp;`).join('\n');
  return replaceExactlyOnce(config, /^http\s*\{\n/m, (open) => `${open}${tempPaths}\n`, 'one `http {` block');
}

// Private:

const ACCESS_LOG = 'access.log';

/** The installed nginx: `NGINX_BINARY`, else `nginx` on the PATH, else the sbin directories, which a non-root PATH often lacks. */
function findNginx(): string {
  const candidates = process.env.NGINX_BINARY
    ? [process.env.NGINX_BINARY]
    : [
        ...(process.env.PATH ?? '')
          .split(path.delimiter)
          .filter(Boolean)
          .map((dir) => path.join(dir, 'nginx')),
        '/usr/sbin/nginx',
        '/usr/local/sbin/nginx',
      ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not this one.
    }
  }
  throw new Error(
    `nginx is not installed (looked for ${candidates.join(', ')}). The CDN tests run a real nginx in front of the API: ` +
      'install it (Debian: apt-get install nginx-light; .ci/run does) or set NGINX_BINARY to its path.',
  );
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A `server address params;` line of an upstream block: the address is replaced, the rest kept. */
const UPSTREAM_SERVER = /^([ \t]*server[ \t]+)([^\s;]+)([^;]*;)/gm;

function withUpstreams(block: string, upstreams: readonly string[]): string {
  const servers = [...block.matchAll(UPSTREAM_SERVER)];
  if (servers.length !== upstreams.length) {
    throw new Error(`deploy/nginx/nginx.conf's upstream has ${servers.length} servers; the throwaway nginx was given ${upstreams.length} upstreams`);
  }
  let index = 0;
  return block.replace(UPSTREAM_SERVER, (_, head: string, _address: string, tail: string) => `${head}${new URL(upstreams[index++]!).host}${tail}`);
}

function replaceExactlyOnce(text: string, pattern: RegExp, replacement: string | ((match: string) => string), what: string): string {
  const matches = text.match(new RegExp(pattern.source, `${pattern.flags}g`)) ?? [];
  if (matches.length !== 1) throw new Error(`deploy/nginx/nginx.conf should have ${what}; found ${matches.length}`);
  return typeof replacement === 'string' ? text.replace(pattern, replacement) : text.replace(pattern, replacement);
}
