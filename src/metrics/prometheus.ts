import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzip } from 'node:zlib';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { EVT, type Logger } from '../log/logger.js';
import type { ResponseCounter, StatsCollector } from './stats.js';
import type { StreamView } from '../stream/contracts.js';
import { acceptsGzip } from '../http/encoding.js';
import { INDICATORS } from '../ts/alarms.js';

// The prometheus API: the original's metric names and labels, plus what operators need
// beyond them. The hot path never touches prom-client: every value is read from the
// plain counters when Prometheus scrapes (the metrics' collect() callbacks), and the
// counters are advanced by the difference since the previous scrape. Unlike the
// original, whose packet and byte counters never moved, they count.

export interface MetricsStream {
  view: StreamView;
  /** Every configured upstream URL (remote first), for the `url` label. */
  remotes: readonly string[];
  /** Stream requests by response status (counted by the access-log wrapper). */
  responses: ResponseCounter;
}

export interface PrometheusOptions {
  streams: readonly MetricsStream[];
  /** Source of the bitrate gauges (zero with `nostats`). */
  stats: StatsCollector;
  /** Node runtime metrics (nodejs_*) in addition to the process metrics. */
  profile: boolean;
  /** Notification outcomes, when notifications are configured. */
  notifications?: { readonly stats: { readonly sent: number; readonly failed: number; readonly dropped: number } };
  /** URL as shown in labels (hide passwords). */
  redact: (url: string) => string;
  log: Logger;
}

/** Last published value of each counter of one stream. */
interface Published {
  sent: number;
  dropped: number;
  durationNs: number;
  received: number;
  bytesRead: number;
  discarded: number;
  reconnects: number;
  ccErrors: number;
}

interface StreamEntry {
  m: MetricsStream;
  labels: { stream: string };
  urls: string[];
  lastUrl: string;
  last: Published;
  responses: Map<number, number>;
  /** Health check errors last published, per indicator. */
  tr101290: Float64Array;
}

// collectDefaultMetrics() cannot leave out its nodejs_* group, and that group's event-loop
// monitor samples every 10 ms even when nobody scrapes (the original likewise kept Go
// runtime metrics off unless profiling). So the process group is loaded on its own from
// prom-client's metric modules; should that layout ever change, we fall back to
// registering everything and removing the nodejs_* metrics.
const PROCESS_METRIC_MODULES = ['processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors'];
type MetricModule = (registry: Registry, config: object) => void;

function registerProcessMetrics(registry: Registry): void {
  const require = createRequire(import.meta.url);
  let modules: MetricModule[];
  try {
    modules = PROCESS_METRIC_MODULES.map((m) => require(`prom-client/lib/metrics/${m}`) as MetricModule);
  } catch {
    collectDefaultMetrics({ register: registry });
    for (const m of registry.getMetricsAsArray()) if (m.name.startsWith('nodejs_')) registry.removeSingleMetric(m.name);
    return;
  }
  for (const register of modules) register(registry, {});
}

export class PrometheusMetrics {
  /** Our own registry: never prom-client's global one. */
  readonly registry = new Registry();
  private readonly streams: StreamEntry[];
  private readonly o: PrometheusOptions;
  private readonly lastNotify = { sent: 0, failed: 0, dropped: 0 };
  private closed = false;

  private readonly packetsSent: Counter<'stream'>;
  private readonly bytesSent: Counter<'stream'>;
  private readonly packetsDropped: Counter<'stream'>;
  private readonly bytesDropped: Counter<'stream'>;
  private readonly connections: Gauge<'stream'>;
  private readonly duration: Counter<'stream'>;
  private readonly sourceConnected: Gauge<'stream' | 'url'>;
  private readonly packetsReceived: Counter<'stream' | 'url'>;
  private readonly bytesReceived: Counter<'stream' | 'url'>;
  private readonly bitrateIn: Gauge<'stream'>;
  private readonly bitrateOut: Gauge<'stream'>;
  private readonly reconnects: Counter<'stream'>;
  private readonly bytesRead: Counter<'stream'>;
  private readonly discarded: Counter<'stream'>;
  private readonly offline: Gauge<'stream'>;
  private readonly responses: Counter<'stream' | 'code'>;
  private readonly ccErrors: Counter<'stream'>;
  private readonly keyframeAge: Gauge<'stream'>;
  private readonly gop: Gauge<'stream'>;
  private readonly esInfo: Gauge<'stream' | 'program' | 'pid' | 'codec'>;
  private readonly notifications: Counter<'result'> | undefined;
  private readonly alarm: Gauge<'stream' | 'indicator'>;
  private readonly tr101290Errors: Counter<'stream' | 'indicator'>;

  constructor(o: PrometheusOptions) {
    this.o = o;
    this.streams = o.streams.map((m) => {
      const urls = [...new Set(m.remotes.map((u) => o.redact(u)))];
      return {
        m,
        labels: { stream: m.view.name },
        urls,
        lastUrl: urls[0] ?? '',
        last: { sent: 0, dropped: 0, durationNs: 0, received: 0, bytesRead: 0, discarded: 0, reconnects: 0, ccErrors: 0 },
        responses: new Map(),
        tr101290: new Float64Array(INDICATORS.length),
      };
    });
    const registers = [this.registry];
    // Every metric refreshes all of them; the second and later calls in one scrape find
    // nothing new (deltas of zero), so the order prom-client asks in does not matter.
    const collect = (): void => this.refresh();
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers, collect });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) => new Gauge<L>({ name, help, labelNames, registers, collect });

    // The original's metrics, names, help texts and labels.
    this.packetsSent = counter('streaming_packets_sent', 'Total number of MPEG-TS packets sent from the output queue.', ['stream']);
    this.bytesSent = counter('streaming_bytes_sent', 'Total number of bytes sent from the output queue.', ['stream']);
    this.packetsDropped = counter('streaming_packets_dropped', 'Total number of MPEG-TS packets dropped from the output queue.', ['stream']);
    this.bytesDropped = counter('streaming_bytes_dropped', 'Total number of bytes dropped from the output queue.', ['stream']);
    this.connections = gauge('streaming_connections', 'Number of active client connections.', ['stream']);
    this.duration = counter('streaming_duration', 'Total time spent streaming, summed over all client connections. In nanoseconds.', ['stream']);
    this.sourceConnected = gauge('streaming_source_connected', 'Connection status, 0=disconnected 1=connected.', ['stream', 'url']);
    this.packetsReceived = counter('streaming_packets_received', 'Total number of MPEG-TS packets received.', ['stream', 'url']);
    this.bytesReceived = counter('streaming_bytes_received', 'Total number of bytes received.', ['stream', 'url']);

    // Additions.
    this.bitrateIn = gauge('streaming_bitrate_in_bits_per_second', 'MPEG-TS bits per second received from the upstream, averaged over the last few seconds.', ['stream']);
    this.bitrateOut = gauge('streaming_bitrate_out_bits_per_second', 'MPEG-TS bits per second sent to all clients together, averaged over the last few seconds.', ['stream']);
    this.reconnects = counter('streaming_source_reconnects_total', 'Upstream connection attempts after the first one.', ['stream']);
    this.bytesRead = counter('streaming_source_bytes_read_total', 'Raw bytes read from the upstream, before packet alignment.', ['stream']);
    this.discarded = counter('streaming_discarded_bytes_total', 'Upstream bytes discarded while looking for MPEG-TS packet sync.', ['stream']);
    this.offline = gauge('streaming_offline', 'Stream switched offline by the control API, 0=online 1=offline.', ['stream']);
    this.responses = counter('streaming_responses_total', 'Stream requests answered, by HTTP status code.', ['stream', 'code']);
    this.ccErrors = counter('streaming_source_continuity_errors_total', 'Continuity counter errors in the upstream (lost or damaged packets before the proxy).', ['stream']);
    this.keyframeAge = gauge('streaming_keyframe_age_seconds', 'Time since the last video keyframe (random access point) arrived; -1 before the first.', ['stream']);
    this.gop = gauge('streaming_gop_seconds', 'Estimated GOP length: mean time between the last few keyframes; -1 until known.', ['stream']);
    this.esInfo = gauge('streaming_elementary_stream_info', 'Elementary streams the upstream carries (value 1), by program, PID and codec.', ['stream', 'program', 'pid', 'codec']);
    this.alarm = gauge('restreamer_stream_alarm', 'Health check alarm raised on the remote in use (docs/health.md), 0=no 1=yes, by indicator.', ['stream', 'indicator']);
    this.tr101290Errors = counter('restreamer_stream_tr101290_errors_total', 'Health check (ETSI TR 101 290) errors counted in the upstream, by indicator.', ['stream', 'indicator']);
    if (o.notifications) {
      this.notifications = counter('restreamer_notifications_total', 'Event notifications: sent (answered), failed (after retries), dropped (too many in flight).', ['result']);
    }

    if (o.profile) collectDefaultMetrics({ register: this.registry });
    else registerProcessMetrics(this.registry);
  }

  /** Serve the text exposition, gzipped when the scraper accepts it (as the original). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('503 service unavailable');
      return;
    }
    this.registry.metrics().then(
      (text) => {
        if (res.destroyed) return;
        if (!acceptsGzip(req.headers['accept-encoding'])) {
          res.writeHead(200, { 'Content-Type': this.registry.contentType, Vary: 'Accept-Encoding' }).end(text);
          return;
        }
        gzip(text, (err, body) => {
          if (res.destroyed) return;
          if (err) {
            res.writeHead(200, { 'Content-Type': this.registry.contentType, Vary: 'Accept-Encoding' }).end(text);
            return;
          }
          res.writeHead(200, {
            'Content-Type': this.registry.contentType, 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding', 'Content-Length': body.length,
          }).end(body);
        });
      },
      (err: unknown) => {
        this.o.log.error({ evt: EVT.warning, err: (err as Error | undefined)?.message }, 'prometheus scrape failed');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('500 internal server error');
      },
    );
  }

  /** Idempotent: drops every metric (and the process metrics' hooks) from the registry. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.registry.clear();
  }

  /** Bring every metric up to date from the plain counters. */
  private refresh(): void {
    const now = Date.now();
    for (const s of this.streams) {
      const v = s.m.view;
      const h = v.hub;
      const L = s.labels;
      const last = s.last;

      const sent = Math.max(0, h.packetsSent - last.sent);
      this.packetsSent.inc(L, sent);
      this.bytesSent.inc(L, sent * TS_PACKET_SIZE);
      last.sent += sent;

      const dropped = Math.max(0, h.packetsDropped - last.dropped);
      this.packetsDropped.inc(L, dropped);
      this.bytesDropped.inc(L, dropped * TS_PACKET_SIZE);
      last.dropped += dropped;

      const ns = Math.max(0, h.clientMs(now) * 1e6 - last.durationNs);
      this.duration.inc(L, ns);
      last.durationNs += ns;

      this.connections.set(L, h.clientCount);

      // Packets received since the last scrape are put on the URL in use now (or the
      // last one used): exact except across a failover between two scrapes.
      const current = v.currentUrl;
      if (current !== undefined) s.lastUrl = this.o.redact(current);
      const received = Math.max(0, h.packetsIn - last.received);
      last.received += received;
      for (const url of s.urls) {
        const n = url === s.lastUrl ? received : 0;
        this.packetsReceived.inc({ stream: L.stream, url }, n);
        this.bytesReceived.inc({ stream: L.stream, url }, n * TS_PACKET_SIZE);
        this.sourceConnected.set({ stream: L.stream, url }, v.connected && url === s.lastUrl ? 1 : 0);
      }
      if (!s.urls.includes(s.lastUrl) && received > 0) {
        this.packetsReceived.inc({ stream: L.stream, url: s.lastUrl }, received);
        this.bytesReceived.inc({ stream: L.stream, url: s.lastUrl }, received * TS_PACKET_SIZE);
      }

      const rates = this.o.stats.stream(v.name);
      this.bitrateIn.set(L, rates?.bitrateIn ?? 0);
      this.bitrateOut.set(L, rates?.bitrateOut ?? 0);
      this.offline.set(L, v.offline ? 1 : 0);

      const a = v.analyzer;
      if (a) {
        last.ccErrors += this.advance(this.ccErrors, L, a.continuityErrors - last.ccErrors);
        this.keyframeAge.set(L, a.rapTimeMs >= 0 ? (now - a.rapTimeMs) / 1000 : -1);
        this.gop.set(L, a.gopMs >= 0 ? a.gopMs / 1000 : -1);
        for (const p of a.programs) {
          for (const es of p.streams) this.esInfo.set({ stream: L.stream, program: String(p.program), pid: String(es.pid), codec: es.codec }, 1);
        }
      }

      last.reconnects += this.advance(this.reconnects, L, v.reconnects - last.reconnects);
      last.bytesRead += this.advance(this.bytesRead, L, v.bytesIn - last.bytesRead);
      last.discarded += this.advance(this.discarded, L, v.aligner.discardedBytes - last.discarded);

      this.refreshHealth(s);

      for (const [code, n] of s.m.responses.entries()) {
        const before = s.responses.get(code) ?? 0;
        if (n > before) {
          this.responses.inc({ stream: L.stream, code: String(code) }, n - before);
          s.responses.set(code, n);
        }
      }
    }
    const ns = this.o.notifications?.stats;
    if (ns && this.notifications) {
      for (const result of ['sent', 'failed', 'dropped'] as const) {
        this.lastNotify[result] += this.advance(this.notifications, { result }, ns[result] - this.lastNotify[result]);
      }
    }
  }

  /** The health checks' alarms (0/1) and error counters of one stream. */
  private refreshHealth(s: StreamEntry): void {
    const h = s.m.view.health;
    if (!h) return;
    const counts = h.counts();
    const raised = h.alarms;
    INDICATORS.forEach((indicator, i) => {
      const labels = { stream: s.labels.stream, indicator };
      this.alarm.set(labels, raised.includes(indicator) ? 1 : 0);
      s.tr101290[i] = s.tr101290[i]! + this.advance(this.tr101290Errors, labels, counts[indicator] - s.tr101290[i]!);
    });
  }

  /** inc() by a delta that is never negative (a counter cannot go down); returns the amount added. */
  private advance<L extends string>(c: Counter<L>, labels: Partial<Record<L, string | number>>, delta: number): number {
    const d = delta > 0 ? delta : 0;
    c.inc(labels, d);
    return d;
  }
}
