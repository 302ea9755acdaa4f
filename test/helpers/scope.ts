// What an integration test file starts and must stop again: upstreams, proxies, sockets,
// child processes. Stopped in reverse order by close(), from the file's after() hook.
import { startProxy, type ProxyProcess } from './proxy.js';
import { startFixtureServer, type PacedServer } from './upstream.js';

export class Scope {
  private readonly cleanups: (() => unknown)[] = [];

  /** Run `fn` when the file's tests are done. */
  defer(fn: () => unknown): void { this.cleanups.push(fn); }

  /** The fixture (H.264 + AAC, 2 s GOP) served in real time, or at `rate` bytes/s. */
  async paced(rate?: number): Promise<PacedServer> {
    const s = await startFixtureServer(rate);
    this.defer(() => s.stop());
    return s;
  }

  /** The real CLI with `cfg`, listening (and, unless `wait` is false, its upstreams connected). */
  async proxy(cfg: Record<string, unknown>, wait = true): Promise<ProxyProcess> {
    const p = await startProxy(cfg, { waitStreams: wait });
    this.defer(() => p.stop());
    return p;
  }

  async close(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await c();
  }
}
