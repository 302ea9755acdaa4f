import type { Agent } from 'node:http';
import type { Config, ResourceConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { LogHandle } from '../log/logger.js';
import type { HttpFront, Handler } from '../http/server.js';
import { DEFAULT_TIMEOUT_MS as STATIC_TIMEOUT_MS } from '../http/static.js';
import { StatusCounts, type ResponseCounter } from '../metrics/stats.js';
import { createHub } from '../stream/create-hub.js';
import type { TlsWire, WorkerStreamCounters } from '../cluster/protocol.js';
import type { SecureContextOptions } from 'node:tls';
import { RemoteAdmission, RemoteStream } from '../cluster/remote.js';
import { internalAgent, primaryProxy, type ForwardKind, type ForwardQuery } from '../cluster/primary-proxy.js';
import { runWorker, type WorkerConfig, type WorkerHost, type WorkerLink } from '../cluster/worker.js';
import { createFront, publicRoutes, staticTimeoutMs, streamHandler } from './shared.js';
import { workerApiHandler } from './apis.js';

/** A worker process: its life (cluster/worker.ts) with a WorkerApp per configuration. */
export function runWorkerProcess(logh: LogHandle): Promise<number> {
  return runWorker(logh, (link, m, log) => new WorkerApp(m, log, link));
}

/** What a WorkerApp built by a reload takes over from the one it replaces. */
interface Carried {
  front: HttpFront;
  /** Its client-side streams, by slot; those whose slot stays are kept. */
  remoteStreams: ReadonlyMap<number, RemoteStream>;
  responses: ReadonlyMap<string, ResponseCounter>;
  /** The connections to the primary's internal server. */
  internalAgent: Agent;
}

/**
 * Composition root of one configuration of a multi-process worker: the HTTP clients, from
 * hubs the primary's data pipe feeds; admission and the APIs are the primary's (requests
 * for them are forwarded to its internal socket).
 */
export class WorkerApp implements WorkerHost {
  readonly cfg: Config;
  readonly front: HttpFront;
  /** Client-side streams, by slot. */
  private readonly remoteStreams = new Map<number, RemoteStream>();
  /** Stream requests by response status, per stream (reported to the primary). */
  private readonly responses = new Map<string, ResponseCounter>();
  private readonly gate: RemoteAdmission;
  private readonly internalAgent: Agent;
  /** The configuration generation the primary runs (a worker may start after reloads). */
  private readonly generation: number;
  private closed: Promise<void> | undefined;

  constructor(m: WorkerConfig, private readonly log: Logger, private readonly link: WorkerLink, carried?: Carried) {
    const cfg = this.cfg = m.cfg;
    this.generation = m.generation;
    this.front = carried?.front ?? createFront(log);
    // HTTPS: the handshake is done here, on the raw connections the primary hands over,
    // with the pair and ticket keys it sent (a reload's pair serves new connections).
    if (m.tls && !carried) this.front.serveTls(secureContext(m.tls));
    else if (m.tls) this.front.setSecureContext(secureContext(m.tls));
    this.gate = new RemoteAdmission(link.rpc);
    cfg.resources.filter((r) => r.type === 'stream').forEach((r, i) => {
      const slot = m.slots[i] ?? i;
      const kept = carried?.remoteStreams.get(slot);
      if (kept) {
        this.remoteStreams.set(slot, kept);
        this.responses.set(r.serve, carried!.responses.get(r.serve) ?? new StatusCounts());
        return;
      }
      this.remoteStreams.set(slot, new RemoteStream(slot, r.serve, createHub(cfg, r), r.ondemand, link.rpc));
      this.responses.set(r.serve, new StatusCounts());
    });
    this.internalAgent = carried?.internalAgent ?? internalAgent();
    // Wrong credentials are counted by the primary, for the whole instance.
    this.front.setRoutes(publicRoutes(cfg, log, this.responses, (r, rlog, index) => this.handlerFor(r, rlog, index), link.rpc.authGuard));
  }

  /** Client-side streams, by slot: the worker's data pipe feeds them (cluster/slots.ts). */
  get streams(): ReadonlyMap<number, RemoteStream> { return this.remoteStreams; }

  /** Per-stream counters for the primary, by slot (zeros for slots not here). */
  counters(): WorkerStreamCounters[] {
    const now = Date.now();
    const out: WorkerStreamCounters[] = [];
    const top = Math.max(-1, ...this.remoteStreams.keys());
    for (let slot = 0; slot <= top; slot++) {
      const s = this.remoteStreams.get(slot);
      out.push(s
        ? { packetsSent: s.hub.packetsSent, packetsDropped: s.hub.packetsDropped, clients: s.hub.clientCount, clientMs: s.hub.clientMs(now), responses: [...(this.responses.get(s.name)?.entries() ?? [])] }
        : { packetsSent: 0, packetsDropped: 0, clients: 0, clientMs: 0, responses: [] });
    }
    return out;
  }

  /**
   * The primary's next configuration: a slot that stays is a stream that runs on (its
   * clients kept). The primary has refused what cannot change (roles/primary.ts), so this
   * process needs neither the schema nor zod.
   */
  reload(next: WorkerConfig): WorkerApp {
    const slots = new Set(next.slots);
    const kept = new Map([...this.remoteStreams].filter(([slot]) => slots.has(slot)));
    const app = new WorkerApp(next, this.log, this.link, { front: this.front, remoteStreams: kept, responses: this.responses, internalAgent: this.internalAgent });
    const keep = new Set(kept.values());
    for (const s of this.remoteStreams.values()) if (!keep.has(s)) s.hub.close();
    return app;
  }

  /** Stop accepting, end clients. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const closing = this.front.close();
      this.internalAgent.destroy();
      for (const s of this.remoteStreams.values()) s.hub.close();
      await closing;
    })();
    return this.closed;
  }

  private handlerFor(r: ResourceConfig, rlog: Logger, index: number): Handler {
    switch (r.type) {
      case 'stream': return streamHandler(r, [...this.remoteStreams.values()].find((s) => s.name === r.serve)!, this.gate, rlog, undefined);
      case 'static': return this.forward(index, 'static', (staticTimeoutMs(this.cfg) ?? STATIC_TIMEOUT_MS) + 2000);
      case 'api': return workerApiHandler(r, rlog, this.cfg, (kind, query) => this.forward(index, kind, undefined, query));
    }
  }

  /** A resource the primary answers (see cluster/primary-proxy.ts). */
  private forward(resourceIndex: number, kind: ForwardKind, timeoutMs?: number, query?: ForwardQuery): Handler {
    return primaryProxy({ socketPath: this.link.apiSocket, secret: this.link.apiSecret, generation: this.generation, resourceIndex, kind, timeoutMs, agent: this.internalAgent, query });
  }
}

function secureContext(w: TlsWire): SecureContextOptions {
  return { cert: w.cert, key: w.key, minVersion: w.minVersion, ticketKeys: Buffer.from(w.ticketKeys, 'base64') };
}
