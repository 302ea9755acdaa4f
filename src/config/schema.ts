import { z } from 'zod';
import { parseListen } from './listen.js';

// The one schema of restreamer.json: the Go restreamer's keys with its defaults, plus
// our additions (documented in docs/configuration.md). Objects are strict: any key
// other than the comment key "" (stripped by the loader before validation) is an error.
// Checks that need more than one key (users exist, check/control targets, upstream
// URLs, preamble files, duplicate paths) live in load.ts. restreamer.schema.json is
// generated from this file (npm run schema).

export const RESOURCE_TYPES = ['stream', 'static', 'api'] as const;
export const API_TYPES = ['health', 'statistics', 'check', 'control', 'prometheus'] as const;
export const AUTH_TYPES = ['', 'basic', 'bearer'] as const;
export const EVENTS = ['limit_hit', 'limit_miss', 'heartbeat'] as const;
/** Upstream schemes a static resource can fetch from. */
export const STATIC_SCHEMES = ['file', 'http', 'https'] as const;

// The original uses unsigned integers; we also accept fractions of a second.
const count = () => z.number().int().nonnegative();
const seconds = () => z.number().nonnegative();

const listenAddress = z.string().superRefine((value, ctx) => {
  try {
    parseListen(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message, input: value });
  }
});

export const AuthenticationSchema = z.strictObject({
  type: z.string().default('').meta({
    description: '"" (no authentication), "basic" or "bearer"; any other value denies every request, as in the original',
    examples: [...AUTH_TYPES],
  }),
  realm: z.string().default('').describe('realm named in the WWW-Authenticate header of a 401 answer (basic)'),
  user: z.string().optional().describe('a user from userlist; merged in front of "users"'),
  users: z.array(z.string()).default([]).describe('users from userlist who are allowed in (notifications: the first one is sent)'),
}).describe('who may access this resource (resources) or which credentials are sent (notifications)');

export const ResourceSchema = z.strictObject({
  type: z.enum(RESOURCE_TYPES).describe('"stream" (live MPEG-TS proxy), "static" (cached file or HTTP resource) or "api"'),
  api: z.enum(API_TYPES).optional().describe('which API a resource of type "api" serves'),
  serve: z.string().startsWith('/').describe('local path this resource is served on, e.g. "/stream.ts"'),
  remote: z.string().optional().describe('upstream URL (stream, static); for check/control APIs the serve path of the stream they refer to'),
  remotes: z.array(z.string()).default([]).describe('more upstream URLs for a stream (remote goes first); shuffled once, then tried round-robin'),
  cache: seconds().default(0).describe('static: seconds a fetched resource is kept (0 = fetch on every request)'),
  mru: z.number().int().positive().max(65535).default(1500).describe('largest datagram accepted from datagram upstreams (udp, rtp, unixgram, unixpacket), bytes'),
  clientinterface: z.string().default('').describe('network interface used to join a multicast group ("" = chosen by the system)'),
  rtpreorder: z.number().int().min(1).max(1024).default(8).describe('rtp:// upstreams: reorder window in datagrams; a missing datagram is waited for until one this many ahead arrives (1 = no reordering) (restreamer addition)'),
  preamble: z.string().default('').describe('file whose bytes are sent to each new client before live data; relative to the config file ("" = none)'),
  start: z.enum(['keyframe', 'live']).default('keyframe').describe('stream: where a new client starts: "keyframe" (PAT, PMT, then the latest keyframe, at once) or "live" (the live edge, as the original) (restreamer addition)'),
  ondemand: z.boolean().default(false).describe('stream: connect the upstream only while clients watch (restreamer addition)'),
  linger: seconds().default(10).describe('stream with ondemand: seconds the upstream is kept after the last client leaves (restreamer addition)'),
  authentication: AuthenticationSchema.optional(),
}).describe('one HTTP endpoint');

export const NotificationSchema = z.strictObject({
  event: z.enum(EVENTS).describe('"limit_hit" (soft limit reached), "limit_miss" (back below it) or "heartbeat" (every heartbeatinterval seconds)'),
  type: z.enum(['url']).default('url').describe('how to notify: "url" sends a GET request'),
  url: z.string().describe('http(s) URL requested when the event happens'),
  authentication: AuthenticationSchema.optional(),
}).describe('an event callback');

export const UserSchema = z.strictObject({
  password: z.string().describe('password (basic) or token (bearer) of this user'),
}).describe('credentials of one user');

export const ConfigSchema = z.strictObject({
  $schema: z.string().optional().describe('JSON Schema reference for editors; ignored by restreamer (restreamer addition)'),
  listen: listenAddress.default('localhost:http').describe('listen address: "host:port", ":port", "[::1]:port", service names like ":http"; no host = all interfaces'),
  timeout: seconds().default(0).describe('upstream connect / TLS handshake / response header timeout, seconds (0 = none)'),
  reconnect: seconds().default(10).describe('seconds between reconnect attempts; a connection that lasted longer reconnects at once (0 = stay offline after a failure)'),
  readtimeout: seconds().default(0).describe('close an upstream that sends nothing for this many seconds (0 = never)'),
  inputbuffer: z.number().int().positive().default(1000).describe('input buffer per stream, in 188-byte TS packets; also sizes the UDP receive buffer'),
  outputbuffer: z.number().int().positive().default(400).describe('how far a client may lag behind, in TS packets, before it loses data'),
  maxconnections: count().default(0).describe('hard limit on client connections, all streams together; new clients beyond it get 404 (0 = none)'),
  fullconnections: count().default(0).describe('soft limit: the health API reports "full" from here on and limit_hit / limit_miss fire (0 = none)'),
  nostats: z.boolean().default(false).describe('disable the statistics collector'),
  logformat: z.enum(['auto', 'json', 'pretty', 'restreamer']).optional().describe('log line format (default "auto"): "auto" = readable text on a terminal, JSON lines otherwise; "json"; "pretty" (readable text); "restreamer" (the Go original\'s JSON keys, and its "[time] " prefix in a log file); --log-format overrides it (restreamer addition)'),
  profile: z.boolean().default(false).describe('enable runtime profiling metrics (the original started the Go profiler)'),
  heartbeatinterval: seconds().default(60).describe('seconds between heartbeat notifications'),
  log: z.string().default('').describe('log file, relative to the working directory ("" = stdout)'),
  batchms: z.number().nonnegative().max(1000).default(20).describe('time client writes are held back to batch packets, ms (restreamer addition)'),
  batchmaxms: z.number().nonnegative().max(1000).nullable().default(null).describe('longest batch window when the proxy is busy, ms; null = 3 x batchms, at most 100; equal to batchms = never stretch (restreamer addition)'),
  grace: seconds().nullable().default(null).describe('seconds clients stay connected (fed null packets) while a lost upstream is replaced; null = 3 x reconnect, 0 = disconnect at once as the original (restreamer addition)'),
  workers: z.number().int().nonnegative().max(256).default(0).describe('HTTP worker processes; 0 = one per CPU but one (a single process on 2 CPUs), 1 = a single process (restreamer addition)'),
  slowtimeout: seconds().default(60).describe('disconnect a client that has not read anything for this many seconds (0 = never) (restreamer addition)'),
  userlist: z.record(z.string(), UserSchema).default({}).describe('users by name, referred to by authentication stanzas'),
  resources: z.array(ResourceSchema).default([]).describe('the HTTP endpoints: streams, static resources and APIs'),
  notifications: z.array(NotificationSchema).default([]).describe('event callbacks'),
}).describe('restreamer configuration (restreamer.json)');

export type Config = z.output<typeof ConfigSchema>;
export type ResourceConfig = z.output<typeof ResourceSchema>;
export type NotificationConfig = z.output<typeof NotificationSchema>;
export type AuthenticationConfig = z.output<typeof AuthenticationSchema>;
export type ResourceType = (typeof RESOURCE_TYPES)[number];
export type ApiType = (typeof API_TYPES)[number];

/** A stream's upstream URLs in configured order: `remote` first, then `remotes` (as the original merges them). */
export function resourceUpstreams(r: Pick<ResourceConfig, 'remote' | 'remotes'>): string[] {
  return r.remote ? [r.remote, ...r.remotes] : [...r.remotes];
}

/** The users an authentication stanza names: `user` first, then `users`, without repeats. */
export function authUsers(a: Pick<AuthenticationConfig, 'user' | 'users'> | undefined): string[] {
  if (!a) return [];
  return [...new Set(a.user ? [a.user, ...a.users] : a.users)];
}
