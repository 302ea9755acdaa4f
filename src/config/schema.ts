import { z } from 'zod';

// The one schema of restreamer.json: the Go restreamer's keys with its defaults, plus
// our additions (documented in docs/configuration.md). Objects are strict: any key
// other than the comment key "" (stripped before validation) is an error.

const nonNegInt = z.number().int().nonnegative();
const seconds = z.number().nonnegative();

export const AuthenticationSchema = z.strictObject({
  type: z.enum(['', 'basic', 'bearer']).or(z.string()).default('').describe('"" (none), "basic" or "bearer"; any other value denies every request'),
  realm: z.string().default('').describe('realm sent in WWW-Authenticate (basic)'),
  user: z.string().optional().describe('a user from userlist allowed to access this resource'),
  users: z.array(z.string()).default([]).describe('more users from userlist allowed to access this resource'),
});

export const ResourceSchema = z.strictObject({
  type: z.enum(['stream', 'static', 'api']).describe('what this resource serves'),
  api: z.enum(['health', 'statistics', 'check', 'control', 'prometheus']).optional().describe('which API (type "api" only)'),
  serve: z.string().startsWith('/').describe('local path this resource is served on, e.g. "/stream.ts"'),
  remote: z.string().optional().describe('upstream URL; for check/control APIs the serve path of the stream'),
  remotes: z.array(z.string()).default([]).describe('more upstream URLs, tried round-robin after a shuffle'),
  cache: seconds.default(0).describe('static: seconds a fetched resource is kept (0 = fetch every time)'),
  mru: z.number().int().positive().default(1500).describe('largest datagram accepted from datagram upstreams, bytes'),
  clientinterface: z.string().default('').describe('network interface for multicast joins'),
  preamble: z.string().default('').describe('file whose bytes are sent to each new client before live data'),
  authentication: AuthenticationSchema.optional(),
});

export const NotificationSchema = z.strictObject({
  event: z.enum(['limit_hit', 'limit_miss', 'heartbeat']),
  type: z.enum(['url']).default('url'),
  url: z.string(),
  authentication: z.strictObject({
    type: z.string().default(''),
    user: z.string().optional(),
  }).optional(),
});

export const UserSchema = z.strictObject({
  password: z.string(),
});

export const ConfigSchema = z.strictObject({
  listen: z.string().default('localhost:http').describe('listen address: "host:port", ":port", service names like ":http"'),
  timeout: seconds.default(0).describe('upstream connect / response header timeout, seconds (0 = none)'),
  reconnect: seconds.default(10).describe('seconds between reconnect attempts (0 = stay offline after a failure)'),
  readtimeout: seconds.default(0).describe('close an upstream that sends nothing for this many seconds (0 = never)'),
  inputbuffer: z.number().int().positive().default(1000).describe('input queue per stream, TS packets'),
  outputbuffer: z.number().int().positive().default(400).describe('how far a client may lag, TS packets, before it loses data'),
  maxconnections: nonNegInt.default(0).describe('hard limit on client connections, all streams (0 = none)'),
  fullconnections: nonNegInt.default(0).describe('soft limit: health reports "full" from here (0 = none)'),
  nostats: z.boolean().default(false).describe('disable the statistics collector'),
  profile: z.boolean().default(false).describe('enable Node runtime metrics'),
  heartbeatinterval: seconds.default(60).describe('seconds between heartbeat notifications'),
  log: z.string().default('').describe('log file ("" = stdout)'),
  batchms: z.number().nonnegative().max(1000).default(20).describe('batching window for client writes, ms (restreamer addition)'),
  userlist: z.record(z.string(), UserSchema).default({}),
  resources: z.array(ResourceSchema).default([]),
  notifications: z.array(NotificationSchema).default([]),
});

export type Config = z.output<typeof ConfigSchema>;
export type ResourceConfig = z.output<typeof ResourceSchema>;
export type NotificationConfig = z.output<typeof NotificationSchema>;
export type AuthenticationConfig = z.output<typeof AuthenticationSchema>;
