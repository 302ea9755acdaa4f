import { z } from 'zod';
import { isIP } from 'node:net';
import type { SourceOptions } from '../sources/source.js';
import { parseListen } from './listen.js';
import { INDICATORS } from '../ts/alarms.js';

// The one schema of restreamer.json: the Go restreamer's keys with its defaults, plus
// our additions (documented in docs/configuration.md). Objects are strict here, but the
// loader (prepare.ts) has already dropped, with a warning, every key the schema does not
// know, as the original ignored them; what reaches the schema is only what it knows.
// Checks that need more than one key (users exist, check/control targets, upstream
// URLs, preamble files, duplicate paths) live in checks.ts. restreamer.schema.json is
// generated from this file (npm run schema). What a key means beyond its type (how a
// reload treats it, its unit, who reads it) is registered with it in KEYS, and the code
// that acts on that meaning reads it from there.

export const RESOURCE_TYPES = ['stream', 'static', 'api'] as const;
export const API_TYPES = ['health', 'statistics', 'check', 'control', 'prometheus', 'status', 'playlist'] as const;
export const AUTH_TYPES = ['', 'basic', 'bearer', 'token'] as const;
/** Shortest token key, bytes: an HMAC key shorter than this is guessable offline from one signed URL. */
const MIN_TOKEN_KEY_BYTES = 16;
export const EVENTS = ['limit_hit', 'limit_miss', 'heartbeat', 'alarm_raised', 'alarm_cleared'] as const;
/** How a stream with several remotes decides to leave the one in use (docs/health.md). */
const FAILOVER_MODES = ['connection', 'health'] as const;
export const NOTIFICATION_TYPES = ['url'] as const;
/** Upstream schemes a static resource can fetch from. */
export const STATIC_SCHEMES = ['file', 'http', 'https'] as const;

// Every number has a range, so no value can become a gigabyte buffer or a runaway timer.
/**
 * Longest duration, seconds (one day). Node fires any timer longer than 2^31-1 ms
 * (24.8 days) after 1 ms, so an unbounded duration would become a tight loop; one day is
 * far below that even as 3 x reconnect (the default grace) and above any sane setting.
 */
export const MAX_SECONDS = 86_400;
/** Shortest non-zero timer, seconds: below this a reconnect or heartbeat would hammer its peer. */
export const MIN_TIMER_SECONDS = 0.1;
/** Longest static cache time, seconds (one year, the longest max-age caches honour). It is not a timer. */
export const MAX_CACHE_SECONDS = 31_536_000;
/**
 * Largest inputbuffer / outputbuffer, packets. A stream's ring holds
 * max(inputbuffer, outputbuffer) packets of 188 bytes, shared by all its clients, so this
 * bounds it at 188 MB per stream (e.g. 75 s of a 20 Mbit/s stream); the UDP receive
 * buffer asked for is inputbuffer x 188 bytes (the kernel caps it at net.core.rmem_max).
 */
export const MAX_BUFFER_PACKETS = 1_000_000;
/** Largest connection limit: far more sockets than one host can hold open. */
export const MAX_CONNECTIONS = 10_000_000;

const DEFAULT_INPUTBUFFER = 1000;
const DEFAULT_OUTPUTBUFFER = 400;
export const DEFAULT_MRU = 1500;
/** rtp:// reorder window, datagrams: about 20 ms at 4 Mbit/s, and only paid on a gap. */
export const DEFAULT_RTP_REORDER = 8;

/**
 * What a SIGHUP reload does when a key's value changes (src/reload.ts plans by it):
 * - `restart`: the streams that read it restart, ending their clients: every stream for a
 *   top-level key, that stream for a resource key (other resources are rebuilt anyway);
 * - `apply`: the configuration the reload builds applies it, and every stream runs on
 *   (routes, APIs, limits, users, notifications, checks made per request);
 * - `refuse`: it cannot change while running (the listening socket, the process layout),
 *   so the reload is refused;
 * - `startup`: read once at start; a reload keeps the running value.
 */
export type ReloadEffect = 'restart' | 'apply' | 'refuse' | 'startup';

export type Unit = 'seconds' | 'ms' | 'packets' | 'bytes' | 'datagrams' | 'connections' | 'processes' | 'requests' | 'segments';

/** What a key means beyond its type. Every key of every object in the schema has one. */
export interface KeyMeta {
  reload: ReloadEffect;
  /** The unit of a number. */
  unit?: Unit;
  /** Why a number's range ends where it does: with the unit, the end of an out-of-range message. */
  limit?: string;
  /** Resource keys upstream kinds read: their name in SourceOptions (sources/source.ts). */
  source?: keyof SourceOptions;
  /** 0 is read as the key's default, with a warning, as the original did. */
  zeroIsDefault?: true;
}

/** The KeyMeta of each key's schema (the value in its object's shape). */
const KEYS = z.registry<KeyMeta>();

/** The KeyMeta of a key's schema; undefined for a schema that is no key. */
export function keyMeta(key: z.core.$ZodType | undefined): KeyMeta | undefined {
  return key && KEYS.get(key);
}

/** The keys of `object` whose KeyMeta passes `test`, in schema order. */
export function keysWhere<S extends z.core.$ZodShape>(object: z.ZodObject<S, z.core.$ZodObjectConfig>, test: (m: KeyMeta) => boolean): (keyof S & string)[] {
  return (Object.keys(object.shape) as (keyof S & string)[]).filter((k) => {
    const m = keyMeta(object.shape[k]);
    return m !== undefined && test(m);
  });
}

const RESTART = { reload: 'restart' } as const;
const APPLY = { reload: 'apply' } as const;
const TIMER = { unit: 'seconds', limit: 'one day: longer timers would overflow Node\'s 24.8-day limit and fire at once' } as const;
const RING = { unit: 'packets', limit: 'a ring of that many 188-byte packets per stream', zeroIsDefault: true } as const;

// Digits grouped by hand: toLocaleString would load ICU's locale data (~7 MB resident) at start.
const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+$)/g, ',');
const range = (min: number, max: number) => `${min}-${grouped(max)}`;
const count = () => z.number().int().min(0).max(MAX_CONNECTIONS);
const packets = () => z.number().int().min(1).max(MAX_BUFFER_PACKETS);
// The original takes whole seconds; fractions are accepted here, but no timer shorter
// than MIN_TIMER_SECONDS.
const seconds = () => z.number().min(0).max(MAX_SECONDS).refine((v) => v === 0 || v >= MIN_TIMER_SECONDS, {
  error: `must be 0 or at least ${MIN_TIMER_SECONDS} seconds (a shorter timer would hammer its peer)`,
});
const SECONDS = `seconds, 0 or ${MIN_TIMER_SECONDS}-${grouped(MAX_SECONDS)}`;
/** Longest health timer, seconds: a stream broken for an hour is not waited for any longer. */
const MAX_HEALTH_SECONDS = 3600;
const HEALTH_TIMER = { unit: 'seconds', limit: 'an hour: a health timer longer than that watches nothing useful' } as const;
const healthSeconds = (dflt: number) => z.number().min(MIN_TIMER_SECONDS).max(MAX_HEALTH_SECONDS).default(dflt);
const HEALTH_SECONDS = `seconds, ${MIN_TIMER_SECONDS}-${grouped(MAX_HEALTH_SECONDS)}`;

/** "192.0.2.1", "::1", "10.0.0.0/8", "fd00::/8". */
function isAddressOrSubnet(s: string): boolean {
  const slash = s.indexOf('/');
  const family = isIP(slash < 0 ? s : s.slice(0, slash));
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = s.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const listenAddress = z.string().superRefine((value, ctx) => {
  try {
    parseListen(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message, input: value });
  }
});

export const AuthenticationSchema = z.strictObject({
  type: z.string().default('').meta({
    description: '"" (no authentication), "basic", "bearer" or "token" (signed, expiring URLs, restreamer addition); any other value denies every request, as in the original',
    examples: [...AUTH_TYPES],
  }).register(KEYS, APPLY),
  realm: z.string().default('').describe('realm named in the WWW-Authenticate header of a 401 answer (basic)').register(KEYS, APPLY),
  user: z.string().optional().describe('a user from userlist; merged in front of "users"').register(KEYS, APPLY),
  users: z.array(z.string()).default([]).describe('users from userlist who are allowed in (notifications: the first one is sent)').register(KEYS, APPLY),
  key: z.string().regex(new RegExp(`^(?:[0-9a-fA-F]{2}){${MIN_TOKEN_KEY_BYTES},}$`), `must be hex of at least ${MIN_TOKEN_KEY_BYTES} bytes (${2 * MIN_TOKEN_KEY_BYTES} hex digits), e.g. from "openssl rand -hex 32"`).optional()
    .describe(`type "token": the HMAC-SHA256 key, hex, at least ${MIN_TOKEN_KEY_BYTES} bytes (docs/security.md) (restreamer addition)`).register(KEYS, APPLY),
  param: z.string().min(1).optional().describe('type "token": the query parameter holding the token (default "token"; Akamai\'s generators use "__token__") (restreamer addition)').register(KEYS, APPLY),
}).describe('who may access this resource (resources) or which credentials are sent (notifications)');

export const ResourceSchema = z.strictObject({
  type: z.enum(RESOURCE_TYPES).describe('"stream" (live MPEG-TS proxy), "static" (cached file or HTTP resource) or "api"').register(KEYS, RESTART),
  api: z.enum(API_TYPES).optional().describe('which API a resource of type "api" serves').register(KEYS, RESTART),
  serve: z.string().min(1).describe('local path this resource is served on, e.g. "/stream.ts"; as in Go\'s http.ServeMux, a path ending in "/" serves its whole subtree and one not starting with "/" begins with a host name ("localhost/health")').register(KEYS, RESTART),
  name: z.string().optional().describe('stream: display name on the status page and in the playlist (default: the serve path) (restreamer addition)').register(KEYS, RESTART),
  remote: z.string().optional().describe('upstream URL (stream, static); for check/control APIs the serve path of the stream they refer to').register(KEYS, RESTART),
  remotes: z.array(z.string()).default([]).describe('more upstream URLs for a stream (remote goes first); shuffled once, then tried round-robin (in listed order with failover "health")').register(KEYS, RESTART),
  cache: z.number().min(0).max(MAX_CACHE_SECONDS).default(0).describe(`static: seconds a fetched resource is kept (0 = fetch on every request); ${range(0, MAX_CACHE_SECONDS)}`).register(KEYS, { ...RESTART, unit: 'seconds', limit: 'one year' }),
  mru: z.number().int().min(1).max(65535).default(DEFAULT_MRU).describe('largest datagram accepted from datagram upstreams (udp, rtp, unixgram, unixpacket), bytes; 1-65,535 (0 = the default, with a warning)').register(KEYS, { ...RESTART, unit: 'bytes', source: 'mru', zeroIsDefault: true }),
  clientinterface: z.string().default('').describe('network interface used to join a multicast group ("" = chosen by the system)').register(KEYS, { ...RESTART, source: 'clientInterface' }),
  rtpreorder: z.number().int().min(1).max(1024).default(DEFAULT_RTP_REORDER).describe('rtp:// upstreams: reorder window in datagrams; a missing datagram is waited for until one this many ahead arrives (1 = no reordering); 1-1,024 (restreamer addition)').register(KEYS, { ...RESTART, unit: 'datagrams', source: 'rtpReorder' }),
  preamble: z.string().default('').describe('file whose bytes are sent to each new client before live data; relative to the config file ("" = none)').register(KEYS, RESTART),
  start: z.enum(['keyframe', 'live']).default('keyframe').describe('stream: where a new client starts: "keyframe" (PAT, PMT, then the latest keyframe, at once) or "live" (the live edge, as the original) (restreamer addition)').register(KEYS, RESTART),
  ondemand: z.boolean().default(false).describe('stream: connect the upstream only while clients watch (restreamer addition)').register(KEYS, RESTART),
  linger: seconds().default(10).describe(`stream with ondemand: seconds the upstream is kept after the last client leaves; ${SECONDS} (restreamer addition)`).register(KEYS, { ...RESTART, ...TIMER }),
  failover: z.enum(FAILOVER_MODES).default('connection').describe('stream: when to leave the remote in use: "connection" (when its connection fails, as the original) or "health" (also when a priority-1 alarm, or one in failoveron, stays raised for alarmtime; remotes then tried in listed order, no shuffle), see docs/health.md (restreamer addition)').register(KEYS, RESTART),
  failoveron: z.array(z.enum(INDICATORS)).default([]).describe('stream with failover "health": further indicators (beyond priority 1) that switch remotes, e.g. ["scrambled", "transport_error"] (restreamer addition)').register(KEYS, RESTART),
  pidtimeout: healthSeconds(2).describe(`stream health: the program's video or first audio PID absent this long raises pid_error; ${HEALTH_SECONDS} (restreamer addition)`).register(KEYS, { ...RESTART, ...HEALTH_TIMER }),
  pcrinterval: z.number().min(10).max(1000).default(100).describe('stream health: PCRs further apart than this raise pcr_repetition_error, ms; 10-1,000 (100 = ISO 13818-1\'s limit, 40 = DVB\'s) (restreamer addition)').register(KEYS, { ...RESTART, unit: 'ms', limit: 'one second: a PCR is due at least every 100 ms' }),
  alarmclear: healthSeconds(5).describe(`stream health: a raised alarm clears after this long without an error; ${HEALTH_SECONDS} (restreamer addition)`).register(KEYS, { ...RESTART, ...HEALTH_TIMER }),
  alarmtime: healthSeconds(2).describe(`stream with failover "health": how long an alarm stays raised before the stream switches remotes, and the shortest time between two switches; ${HEALTH_SECONDS} (restreamer addition)`).register(KEYS, { ...RESTART, ...HEALTH_TIMER }),
  hls: z.string().min(1).optional().describe('stream: also serve it as live HLS, a media playlist at this path (e.g. "/news.m3u8", matched like serve, same authentication); segments are served under it, see docs/hls.md (restreamer addition)').register(KEYS, RESTART),
  hlssegment: z.number().min(1).max(60).default(2).describe('stream with hls: shortest segment, seconds; a segment ends at the first keyframe after it; 1-60 (restreamer addition)').register(KEYS, { ...RESTART, unit: 'seconds', limit: 'a minute: longer segments make HLS latency useless' }),
  hlswindow: z.number().int().min(2).max(1000).default(6).describe('stream with hls: segments listed in the playlist; 2-1,000 (restreamer addition)').register(KEYS, { ...RESTART, unit: 'segments' }),
  authentication: AuthenticationSchema.optional().register(KEYS, APPLY),
}).describe('one HTTP endpoint');

export const NotificationSchema = z.strictObject({
  event: z.enum(EVENTS).describe('"limit_hit" (soft limit reached), "limit_miss" (back below it) or "heartbeat" (every heartbeatinterval seconds)').register(KEYS, APPLY),
  type: z.enum(NOTIFICATION_TYPES).default('url').describe('how to notify: "url" sends a GET request').register(KEYS, APPLY),
  url: z.string().describe('http(s) URL requested when the event happens').register(KEYS, APPLY),
  authentication: AuthenticationSchema.optional().register(KEYS, APPLY),
}).describe('an event callback');

export const UserSchema = z.strictObject({
  password: z.string().describe('password (basic) or token (bearer) of this user').register(KEYS, APPLY),
}).describe('credentials of one user');

/** TLS versions a client may negotiate at least (Node's names). */
const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

export const TlsSchema = z.strictObject({
  listen: listenAddress.describe('HTTPS listen address, in the form of "listen" (e.g. ":8443" or ":https"); the same resources as on "listen"').register(KEYS, { reload: 'refuse' }),
  cert: z.string().min(1).describe('certificate chain file (PEM, leaf first, e.g. certbot\'s fullchain.pem), relative to the config file; re-read on every SIGHUP').register(KEYS, APPLY),
  key: z.string().min(1).describe('private key file (PEM) of the certificate, relative to the config file; re-read on every SIGHUP').register(KEYS, APPLY),
  minversion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('oldest TLS version a client may use: "TLSv1.2" or "TLSv1.3"').register(KEYS, APPLY),
  only: z.boolean().default(false).describe('true: serve HTTPS only, no plain HTTP on "listen" (keep false for legacy clients such as HbbTV TVs that cannot speak modern TLS)').register(KEYS, { reload: 'refuse' }),
}).describe('HTTPS beside plain HTTP, for the same resources (restreamer addition); with workers >= 2 the primary reads the pair and the workers do the handshakes');

export const ConfigSchema = z.strictObject({
  $schema: z.string().optional().describe('JSON Schema reference for editors; ignored by restreamer (restreamer addition)').register(KEYS, APPLY),
  listen: listenAddress.default('localhost:http').describe('listen address: "host:port", ":port", "[::1]:port", service names like ":http"; no host = all interfaces').register(KEYS, { reload: 'refuse' }),
  // Refused: turning HTTPS on or off, or changing its fixed keys; its files are re-read on every reload (reload.ts).
  tls: TlsSchema.optional().register(KEYS, { reload: 'refuse' }),
  timeout: seconds().default(0).describe(`upstream connect / TLS handshake / response header timeout; ${SECONDS} (0 = none)`).register(KEYS, { ...RESTART, ...TIMER }),
  reconnect: seconds().default(10).describe(`seconds between reconnect attempts; a connection that lasted longer reconnects at once; ${SECONDS} (0 = stay offline after a failure)`).register(KEYS, { ...RESTART, ...TIMER }),
  readtimeout: seconds().default(0).describe(`close an upstream that sends nothing for this many seconds; ${SECONDS} (0 = never)`).register(KEYS, { ...RESTART, ...TIMER }),
  inputbuffer: packets().default(DEFAULT_INPUTBUFFER).describe(`input buffer per stream, in 188-byte TS packets; also sizes the UDP receive buffer; ${range(1, MAX_BUFFER_PACKETS)} (0 = the default, with a warning)`).register(KEYS, { ...RESTART, ...RING }),
  outputbuffer: packets().default(DEFAULT_OUTPUTBUFFER).describe(`how far a client may lag behind, in TS packets, before it loses data; ${range(1, MAX_BUFFER_PACKETS)} (0 = the default, with a warning)`).register(KEYS, { ...RESTART, ...RING }),
  maxconnections: count().default(0).describe(`hard limit on client connections, all streams together; new clients beyond it get 404; ${range(0, MAX_CONNECTIONS)} (0 = none)`).register(KEYS, { ...APPLY, unit: 'connections' }),
  fullconnections: count().default(0).describe(`soft limit: the health API reports "full" from here on and limit_hit / limit_miss fire; ${range(0, MAX_CONNECTIONS)} (0 = none)`).register(KEYS, { ...APPLY, unit: 'connections' }),
  nostats: z.boolean().default(false).describe('disable the statistics collector').register(KEYS, APPLY),
  logformat: z.enum(['auto', 'json', 'pretty', 'restreamer']).optional().describe('log line format (default "auto"): "auto" = readable text on a terminal, JSON lines otherwise; "json"; "pretty" (readable text); "restreamer" (the Go original\'s JSON keys, and its "[time] " prefix in a log file); --log-format overrides it (restreamer addition)').register(KEYS, { reload: 'startup' }),
  profile: z.boolean().default(false).describe('enable runtime profiling metrics (the original started the Go profiler)').register(KEYS, APPLY),
  heartbeatinterval: seconds().default(60).describe(`seconds between heartbeat notifications; ${SECONDS} (0 only without heartbeat notifications)`).register(KEYS, { ...APPLY, ...TIMER }),
  log: z.string().default('').describe('log file, relative to the working directory ("" = stdout)').register(KEYS, { reload: 'startup' }),
  batchms: z.number().nonnegative().max(1000).default(20).describe('time client writes are held back to batch packets, ms; 0-1,000 (restreamer addition)').register(KEYS, { ...RESTART, unit: 'ms' }),
  batchmaxms: z.number().nonnegative().max(1000).nullable().default(null).describe('longest batch window when the proxy is busy, ms; 0-1,000; null = 3 x batchms, at most 100; equal to batchms = never stretch (restreamer addition)').register(KEYS, { ...RESTART, unit: 'ms' }),
  grace: seconds().nullable().default(null).describe(`seconds clients stay connected (fed null packets) while a lost upstream is replaced; ${SECONDS}; null = 3 x reconnect, 0 = disconnect at once as the original (restreamer addition)`).register(KEYS, { ...RESTART, ...TIMER }),
  workers: z.number().int().nonnegative().max(256).default(0).describe('HTTP worker processes, 0-256; 0 (auto) and 1 = a single process, the cheapest on every host measured; 2 or more = a primary plus that many workers, see docs/configuration.md (restreamer addition)').register(KEYS, { reload: 'refuse', unit: 'processes' }),
  drain: seconds().max(3600).default(0).describe('on SIGTERM, 0-3,600: seconds to keep serving the viewers already connected while health reports "full" (draining), so a load balancer moves new viewers elsewhere; ends early when the last viewer leaves; a second SIGTERM or SIGINT stops at once (0 = stop at once) (restreamer addition)').register(KEYS, { ...APPLY, unit: 'seconds' }),
  slowtimeout: seconds().default(60).describe(`disconnect a client that has not read anything for this many seconds; ${SECONDS} (0 = never) (restreamer addition)`).register(KEYS, { ...RESTART, ...TIMER }),
  trustedproxies: z.array(z.string().refine(isAddressOrSubnet, 'expected an IP address or a subnet like "10.0.0.0/8" or "fd00::/8"')).default([])
    .describe('addresses (or subnets) of reverse proxies whose X-Forwarded-Host / X-Forwarded-Proto the playlist and status page trust (restreamer addition)').register(KEYS, APPLY),
  authfailures: z.number().int().min(0).max(1_000_000).default(10).describe('brute-force protection: an address that sends wrong credentials (password, bearer token or signed URL) more than this many times within authwindow seconds gets 429 for authblock seconds; 0-1,000,000 (0 = off) (restreamer addition)').register(KEYS, { ...APPLY, unit: 'requests' }),
  authwindow: z.number().min(1).max(MAX_SECONDS).default(60).describe(`brute-force protection: the window wrong credentials are counted in, seconds; 1-${grouped(MAX_SECONDS)} (restreamer addition)`).register(KEYS, { ...APPLY, ...TIMER }),
  authblock: z.number().min(1).max(MAX_SECONDS).default(60).describe(`brute-force protection: how long a blocked address gets 429, seconds; 1-${grouped(MAX_SECONDS)} (restreamer addition)`).register(KEYS, { ...APPLY, ...TIMER }),
  userlist: z.record(z.string(), UserSchema).default({}).describe('users by name, referred to by authentication stanzas').register(KEYS, APPLY),
  resources: z.array(ResourceSchema).default([]).describe('the HTTP endpoints: streams, static resources and APIs').register(KEYS, APPLY),
  notifications: z.array(NotificationSchema).default([]).describe('event callbacks').register(KEYS, APPLY),
}).describe('restreamer configuration (restreamer.json)');

export type Config = z.output<typeof ConfigSchema>;
export type ResourceConfig = z.output<typeof ResourceSchema>;
export type NotificationConfig = z.output<typeof NotificationSchema>;
export type AuthenticationConfig = z.output<typeof AuthenticationSchema>;
export type TlsConfig = z.output<typeof TlsSchema>;

/** A stream's upstream URLs in configured order: `remote` first, then `remotes` (as the original merges them). */
export function resourceUpstreams(r: Pick<ResourceConfig, 'remote' | 'remotes'>): string[] {
  return r.remote ? [r.remote, ...r.remotes] : [...r.remotes];
}

export { authUsers } from './users.js';
