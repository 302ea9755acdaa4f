import type { IncomingMessage, ServerResponse } from 'node:http';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import type { StatsCollector } from '../metrics/stats.js';
import { describeAnalysis } from '../metrics/analysis.js';
import type { Handler } from './server.js';

// The JSON and text APIs, answering as the Go restreamer does (same keys, bodies, status
// codes and content types) so existing load balancers and monitoring keep working.
// Additions are extra keys only: `down`, `offline`, `unhealthy` in health, `streams` in statistics.

/** What check and control need from a stream (src/stream/stream.ts Stream satisfies it). */
export interface ControlledStream {
  readonly name: string;
  /** Upstream connected and not switched offline. */
  readonly available: boolean;
  readonly offline: boolean;
  /** On-demand stream whose upstream is idle (nobody watching): servable, not down. */
  readonly idleOnDemand?: boolean;
  /** Failover "health" and a priority-1 alarm raised on the remote in use (docs/health.md). */
  readonly unhealthy?: boolean;
  setOffline(offline: boolean): void;
}

export interface ApiContext {
  stats: StatsCollector;
  /** Client connections across all streams right now. */
  connections: () => number;
  /** maxconnections (hard limit) and fullconnections (soft limit); 0 = none. */
  maxConnections: number;
  fullConnections: number;
  streams: ReadonlyMap<string, ControlledStream>;
  /** Shutting down with a drain time: reported as full so load balancers stop sending. */
  draining?: () => boolean;
}

function json(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

function query(req: IncomingMessage): URLSearchParams {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

/** A limit of 0 is no limit. */
function reached(limit: number, connections: number): boolean {
  return limit > 0 && connections >= limit;
}

/**
 * health: `{"status","viewer","limit","max","bandwidth"}`; "full" once either limit is
 * reached; bandwidth in kbit/s (1024 bits) sent, over the last few seconds. Connection
 * figures are live even with `nostats` (the original then answered zeros: a load
 * balancer would never see "full"); only bandwidth needs the statistics sampler.
 * Additions: `offline`, the streams switched offline by the control API; `draining`
 * (true, with status "full") while a SIGTERM drain runs.
 */
export function healthHandler(ctx: ApiContext): Handler {
  return (_req, res) => {
    const viewer = ctx.connections();
    const draining = ctx.draining?.() ?? false;
    const full = draining || reached(ctx.maxConnections, viewer) || reached(ctx.fullConnections, viewer);
    const offline: string[] = [];
    // Streams whose upstream delivers nothing (not connected, only garbage, silent): not
    // servable although nobody switched them off.
    const down: string[] = [];
    // Streams with failover "health" whose remote in use has a priority-1 alarm: their check fails.
    const unhealthy: string[] = [];
    for (const s of ctx.streams.values()) {
      if (s.offline) offline.push(s.name);
      else if (!s.available && !s.idleOnDemand) down.push(s.name);
      else if (s.unhealthy) unhealthy.push(s.name);
    }
    json(res, {
      status: full ? 'full' : 'ok',
      viewer,
      limit: ctx.fullConnections,
      max: ctx.maxConnections,
      bandwidth: Math.floor((ctx.stats.bytesPerSecondSent() * 8) / 1024),
      down,
      offline,
      unhealthy,
      ...(draining ? { draining: true } : {}),
    });
  };
}

/**
 * statistics: the original's keys and status ("ok", "full" at the soft limit,
 * "overload" at the hard limit), bytes counted as whole TS packets as it did. With
 * `nostats` every figure is zero, as the original's dummy collector answered.
 * `total_stream_time_ns` is the key the original's code sends; `total_stream_time`
 * (its documented name) carries the same value. Addition: `streams`, one entry per
 * stream path.
 */
export function statisticsHandler(ctx: ApiContext): Handler {
  return (_req, res) => {
    const g = ctx.stats.global();
    let status = 'ok';
    if (reached(g.maxConnections, g.connections)) status = 'overload';
    else if (reached(g.fullConnections, g.connections)) status = 'full';
    const streams: Record<string, unknown> = {};
    for (const name of ctx.stats.names()) {
      const s = ctx.stats.stream(name);
      if (!s) continue;
      streams[name] = {
        url: s.url,
        connected: s.connected,
        offline: s.offline,
        clients: s.clients,
        bitrate_in: s.bitrateIn,
        bitrate_out: s.bitrateOut,
        packets_received: s.packetsReceived,
        packets_sent: s.packetsSent,
        packets_dropped: s.packetsDropped,
        packets_per_second_received: s.packetsPerSecondReceived,
        packets_per_second_sent: s.packetsPerSecondSent,
        packets_per_second_dropped: s.packetsPerSecondDropped,
        bytes_read: s.bytesRead,
        discarded_bytes: s.discardedBytes,
        packet_size: s.packetSize,
        reconnects: s.reconnects,
        ...(s.analyzer ? { analysis: describeAnalysis(s.analyzer) } : {}),
        ...(s.alarms ? { alarms: s.alarms } : {}),
        ...(s.tr101290Errors ? { tr101290_errors: s.tr101290Errors } : {}),
      };
    }
    const streamTime = Math.round(g.streamTimeNs);
    json(res, {
      status,
      connections: g.connections,
      max_connections: g.maxConnections,
      full_connections: g.fullConnections,
      total_packets_received: g.packetsReceived,
      total_packets_sent: g.packetsSent,
      total_packets_dropped: g.packetsDropped,
      total_bytes_received: g.packetsReceived * TS_PACKET_SIZE,
      total_bytes_sent: g.packetsSent * TS_PACKET_SIZE,
      total_bytes_dropped: g.packetsDropped * TS_PACKET_SIZE,
      total_stream_time_ns: streamTime,
      total_stream_time: streamTime,
      packets_per_second_received: g.packetsPerSecondReceived,
      packets_per_second_sent: g.packetsPerSecondSent,
      packets_per_second_dropped: g.packetsPerSecondDropped,
      bytes_per_second_received: g.packetsPerSecondReceived * TS_PACKET_SIZE,
      bytes_per_second_sent: g.packetsPerSecondSent * TS_PACKET_SIZE,
      bytes_per_second_dropped: g.packetsPerSecondDropped * TS_PACKET_SIZE,
      streams,
    });
  };
}

/**
 * check: `200 ok` while the stream can serve, else `404 not found`. The original looked
 * at the upstream only; a stream switched offline by control is not servable either, nor
 * one with failover "health" whose remote in use has a priority-1 alarm.
 */
export function checkHandler(stream: ControlledStream): Handler {
  return (_req, res) => {
    // An idle on-demand stream connects when asked: a load balancer must not mark it down.
    if ((stream.available && stream.unhealthy !== true) || (stream.idleOnDemand && !stream.offline)) text(res, 200, '200 ok');
    else text(res, 404, '404 not found');
  };
}

/**
 * control: `?offline` ends every client of the stream and refuses new ones, `?online`
 * lets them in again (both `202 accepted`; offline wins when both are given, as in the
 * original); anything else `400 bad request`.
 */
export function controlHandler(stream: ControlledStream): Handler {
  return (req, res) => {
    const q = query(req);
    if (q.has('offline')) stream.setOffline(true);
    else if (q.has('online')) stream.setOffline(false);
    else return text(res, 400, '400 bad request');
    text(res, 202, '202 accepted');
  };
}

/** An API whose target is missing (config validation normally prevents it). */
export function notFoundHandler(): Handler {
  return (_req, res) => text(res, 404, '404 not found');
}
