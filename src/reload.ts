import { ConfigSchema, ResourceSchema, TlsSchema, keysWhere, type Config, type ResourceConfig } from './config/schema.js';
import { parseListen } from './config/listen.js';

// SIGHUP reload: what a new configuration changes, decided before anything is touched,
// by what the schema says each key's change does (its KeyMeta.reload). A stream is kept
// (same upstream connection, same clients) when every key that shapes its data path is
// equal: its own keys but `authentication` (checked per request) and the global keys its
// supervisor, aligner and hub read. Everything else (APIs, static resources, users,
// limits, notifications) is rebuilt, which costs no viewer anything.

/** Global keys a stream's data path reads: a change restarts every stream. */
const STREAM_GLOBALS = keysWhere(ConfigSchema, (m) => m.reload === 'restart');
/** A stream resource's keys whose change restarts that stream. */
const STREAM_OWN = keysWhere(ResourceSchema, (m) => m.reload === 'restart');
/** Keys that cannot change while running (the listening socket, the process layout); `tls` by its own keys, below. */
const FIXED_GLOBALS = keysWhere(ConfigSchema, (m) => m.reload === 'refuse').filter((k) => k !== 'tls');
/** Keys of `tls` that cannot change while running (its listening socket, plain HTTP on or off). */
const FIXED_TLS = keysWhere(TlsSchema, (m) => m.reload === 'refuse');

export interface ReloadPlan {
  /** Serve paths of streams whose definition is unchanged: upstream and clients kept. */
  keep: string[];
  /** Changed streams: the old one ends its clients, the new one starts. */
  restart: string[];
  remove: string[];
  add: string[];
  /** Keys that cannot change while running and differ: the reload is refused. */
  refused: { key: string; from: unknown; to: unknown }[];
}

const streamsOf = (cfg: Config): Map<string, ResourceConfig> =>
  new Map(cfg.resources.filter((r) => r.type === 'stream').map((r) => [r.serve, r]));

/** A stable text of what shapes a stream's data path (key order does not matter). */
function streamIdentity(r: ResourceConfig, cfg: Config): string {
  const own = Object.fromEntries(STREAM_OWN.map((k) => [k, r[k]]));
  const globals = Object.fromEntries(STREAM_GLOBALS.map((k) => [k, cfg[k]]));
  return stableJson({ own, globals });
}

export function planReload(from: Config, to: Config): ReloadPlan {
  // Two spellings of one address (":80", ":http") are the same socket.
  const same = (k: keyof Config) => k === 'listen' ? stableJson(parseListen(from.listen)) === stableJson(parseListen(to.listen)) : stableJson(from[k]) === stableJson(to[k]);
  const refused = [...FIXED_GLOBALS.filter((k) => !same(k)).map((key) => ({ key, from: from[key], to: to[key] })), ...tlsRefused(from, to)];
  const before = streamsOf(from);
  const after = streamsOf(to);
  const plan: ReloadPlan = { keep: [], restart: [], remove: [], add: [], refused };
  for (const [serve, r] of after) {
    const old = before.get(serve);
    if (!old) plan.add.push(serve);
    else if (streamIdentity(old, from) === streamIdentity(r, to)) plan.keep.push(serve);
    else plan.restart.push(serve);
  }
  for (const serve of before.keys()) if (!after.has(serve)) plan.remove.push(serve);
  return plan;
}

/** HTTPS turned on or off, or its fixed keys changed: a listening socket would have to open or close. */
function tlsRefused(from: Config, to: Config): ReloadPlan['refused'] {
  if (!from.tls || !to.tls) return from.tls === to.tls ? [] : [{ key: 'tls', from: from.tls, to: to.tls }];
  const a = from.tls;
  const b = to.tls;
  const same = (k: (typeof FIXED_TLS)[number]) => k === 'listen' ? stableJson(parseListen(a.listen)) === stableJson(parseListen(b.listen)) : a[k] === b[k];
  return FIXED_TLS.filter((k) => !same(k)).map((k) => ({ key: `tls.${k}`, from: a[k], to: b[k] }));
}

function stableJson(v: unknown): string {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify gives undefined for undefined, whatever its type says
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      return Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return val;
  }) ?? 'undefined';
}
