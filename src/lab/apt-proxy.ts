/**
 * The lab's apt proxy: an HTTP forward proxy on the bridge address that lets lab hosts reach the Debian package
 * registry and nothing else. Immutable files (packages under pool/, indexes fetched by hash) are cached on disk
 * outside any clone, so repeated runs and CI do not fetch them again; index files that change (InRelease,
 * Release, Packages…) are always passed through to the registry.
 */
import { createReadStream, createWriteStream, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import { dirname, join, normalize } from 'node:path';

export interface AptProxyConfig {
  /** instance id of the lab that owns this proxy (lets `lab down` and leftover checks find it) */
  instance: string;
  listen: string;
  port: number;
  /** host names requests may go to */
  allow: string[];
  cacheDir: string;
}

export function parseAptProxyConfig(json: string): AptProxyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('apt proxy: the configuration argument is not JSON');
  }
  const c = (raw ?? {}) as Record<string, unknown>;
  const ok =
    typeof c.instance === 'string' &&
    typeof c.listen === 'string' &&
    typeof c.port === 'number' &&
    Array.isArray(c.allow) &&
    c.allow.every((a) => typeof a === 'string') &&
    typeof c.cacheDir === 'string';
  if (!ok) throw new Error('apt proxy: configuration needs instance, listen, port, allow[], cacheDir');
  return {
    instance: c.instance as string,
    listen: c.listen as string,
    port: c.port as number,
    allow: c.allow as string[],
    cacheDir: c.cacheDir as string,
  };
}

/** Files whose content never changes under the same URL. */
export function isImmutablePath(path: string): boolean {
  if (path.includes('/by-hash/')) return true;
  if (!path.includes('/pool/')) return false;
  return /\.(deb|udeb|ddeb|dsc|tar\.(gz|xz|bz2|zst)|diff\.gz)$/.test(path);
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Request headers worth passing to the registry. */
const FORWARD_REQUEST = ['user-agent', 'accept', 'range', 'if-range', 'if-modified-since', 'if-none-match', 'cache-control'];

function responseHeaders(up: IncomingMessage): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(up.headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  return out;
}

export interface AptProxy {
  server: Server;
  close(): Promise<void>;
}

type Log = (line: string) => void;

function refuse(res: ServerResponse, status: number, why: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
  res.end(`${why}\n`);
}

/** Maps an allowed URL to its cache file; undefined if the path could escape the cache folder. */
export function cacheFileFor(cacheDir: string, host: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.split('/').includes('..')) return undefined;
  const rel = normalize(decoded).replace(/^\/+/, '');
  if (!rel || rel.startsWith('..')) return undefined;
  return join(cacheDir, host, rel);
}

export function startAptProxy(cfg: AptProxyConfig, log: Log): Promise<AptProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const allow = new Set(cfg.allow.map((h) => h.toLowerCase()));
  let tmpSeq = 0;

  const serveCached = (req: IncomingMessage, res: ServerResponse, file: string, size: number, mtime: Date): void => {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': size,
      'last-modified': mtime.toUTCString(),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const rs = createReadStream(file);
    rs.on('error', () => res.destroy());
    rs.pipe(res);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, url: URL, cacheFile: string | undefined): void => {
    const headers: OutgoingHttpHeaders = { host: url.host };
    for (const h of FORWARD_REQUEST) {
      const v = req.headers[h];
      if (v !== undefined && !(cacheFile && (h === 'range' || h === 'if-range'))) headers[h] = v;
    }
    const upReq = httpRequest(
      { host: url.hostname, port: 80, method: req.method, path: `${url.pathname}${url.search}`, headers, agent, timeout: 60_000 },
      (up) => {
        const status = up.statusCode ?? 502;
        res.writeHead(status, responseHeaders(up));
        const store = cacheFile !== undefined && status === 200 && req.method === 'GET';
        if (!store) {
          log(`${req.method} ${url.href} -> ${status} pass`);
          up.pipe(res);
          return;
        }
        const expected = Number(up.headers['content-length'] ?? NaN);
        const tmp = `${cacheFile}.part-${process.pid}-${++tmpSeq}`;
        mkdirSync(dirname(cacheFile), { recursive: true });
        const ws = createWriteStream(tmp);
        let bytes = 0;
        let failed = false;
        const drop = (): void => {
          failed = true;
          ws.destroy();
          try {
            unlinkSync(tmp);
          } catch {
            // never written
          }
        };
        ws.on('error', drop);
        // the download goes on into the cache even if the client hangs up
        let clientGone = false;
        res.on('close', () => {
          if (!res.writableFinished) clientGone = true;
          up.resume();
        });
        res.on('error', () => {
          clientGone = true;
        });
        up.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (!failed) ws.write(chunk);
          if (!clientGone && !res.write(chunk)) {
            up.pause();
            res.once('drain', () => up.resume());
          }
        });
        up.on('aborted', drop);
        up.on('error', () => {
          drop();
          res.destroy();
        });
        up.on('end', () => {
          if (!clientGone) res.end();
          if (!up.complete) drop();
          if (failed) return;
          ws.end(() => {
            if (failed) return;
            if (Number.isFinite(expected) && bytes !== expected) {
              drop();
              return;
            }
            try {
              renameSync(tmp, cacheFile);
              log(`GET ${url.href} -> 200 stored (${bytes} bytes)`);
            } catch {
              drop();
            }
          });
        });
      },
    );
    upReq.on('timeout', () => upReq.destroy(new Error('registry timed out')));
    upReq.on('error', (e) => {
      log(`${req.method} ${url.href} -> 502 ${e.message}`);
      if (!res.headersSent) refuse(res, 502, `apt proxy: ${url.host}: ${e.message}`);
      else res.destroy();
    });
    upReq.end();
  };

  const server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      refuse(res, 400, 'apt proxy: only absolute http:// URLs (proxy requests) are served');
      return;
    }
    const host = url.hostname.toLowerCase();
    if (url.protocol !== 'http:' || (url.port !== '' && url.port !== '80') || !allow.has(host)) {
      log(`${req.method ?? '?'} ${url.href} -> 403 not allowed`);
      refuse(res, 403, `apt proxy: ${url.host} is not an allowed package registry (allowed: ${[...allow].join(', ')})`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      refuse(res, 405, 'apt proxy: only GET and HEAD');
      return;
    }
    const file = isImmutablePath(url.pathname) ? cacheFileFor(cfg.cacheDir, host, url.pathname) : undefined;
    if (file) {
      try {
        const st = statSync(file);
        if (st.isFile()) {
          log(`${req.method} ${url.href} -> 200 hit`);
          serveCached(req, res, file, st.size, st.mtime);
          return;
        }
      } catch {
        // not cached yet
      }
    }
    forward(req, res, url, file);
  });
  // HTTPS tunnels (CONNECT) would let traffic past the allow-list: always refused.
  server.on('connect', (req: IncomingMessage, socket) => {
    log(`CONNECT ${req.url ?? '?'} -> 403 not allowed`);
    socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.listen, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((r) => {
            agent.destroy();
            server.close(() => r());
            server.closeAllConnections?.();
          }),
      });
    });
  });
}

/** Entry of the detached proxy process: `ops __lab-apt-proxy '<json config>'`. Runs until SIGTERM/SIGINT. */
export async function runAptProxyFromArgv(argv: string[]): Promise<void> {
  const cfg = parseAptProxyConfig(argv[0] ?? '');
  mkdirSync(cfg.cacheDir, { recursive: true });
  const stamp = (): string => new Date().toISOString();
  const log: Log = (line) => process.stdout.write(`${stamp()} ${line}\n`);
  const proxy = await startAptProxy(cfg, log);
  log(`apt proxy of lab ${cfg.instance} listening on ${cfg.listen}:${cfg.port}, allowed: ${cfg.allow.join(', ')}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      log('stopping');
      void proxy.close().then(resolve);
      setTimeout(resolve, 2000).unref();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGHUP', () => undefined);
  });
}
