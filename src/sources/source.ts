import { ResourceSchema, keyMeta, type ResourceConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { RestreamerError } from '../errors.js';

/**
 * What every upstream kind gets when the supervisor opens it. Timeouts that apply to
 * all kinds (connect, read/idle) are enforced by the supervisor, not by each source.
 */
export interface SourceContext<O = SourceOptions> {
  /** The parsed upstream URL. */
  url: URL;
  /** Stream name (the resource's serve path), for logs. */
  stream: string;
  log: Logger;
  /** Input buffer size in TS packets (`inputbuffer`): sizes socket buffers where relevant. */
  inputBufferPackets: number;
  /** Connect / response-header timeout in ms (0 = none). Sources may use it for DNS/TLS. */
  connectTimeoutMs: number;
  /** The resource settings this kind reads (its options type), already resolved. */
  options: O;
}

/**
 * Resource settings upstream kinds read, resolved: the schema's defaults applied, so a
 * kind never supplies a default of its own. Each kind declares the part it reads as its
 * options type, e.g. `SourceKind<Pick<SourceOptions, 'mru'>>`; settings in the URL
 * itself (file pacing, fork arguments) are parsed by the kind from the URL.
 */
export interface SourceOptions {
  /** Largest datagram accepted, bytes (`mru`). */
  mru: number;
  /** Network interface for multicast joins (`clientinterface`); undefined = the system's choice. */
  clientInterface?: string;
  /** rtp: reorder window, datagrams (`rtpreorder`). */
  rtpReorder: number;
}

/** The options type of a kind that reads no resource settings. */
// eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type -- on purpose: every settings object satisfies it
export type NoOptions = Record<never, never>;

/**
 * A stream resource's settings as the kinds read them: each resource key the schema
 * names a `source` option, under that name; "" (Go's zero value) is left unset.
 */
export function sourceOptions(res: ResourceConfig): SourceOptions {
  const options: Partial<Record<keyof SourceOptions, unknown>> = {};
  for (const [key, field] of Object.entries(ResourceSchema.shape)) {
    const name = keyMeta(field)?.source;
    const value = res[key as keyof ResourceConfig];
    if (name !== undefined && value !== '') options[name] = value;
  }
  return options as SourceOptions;
}

/** Receives the upstream's bytes. Datagram kinds call it once per datagram payload. */
export type DataSink = (chunk: Buffer) => void;

/** Why an upstream connection ended: `undefined` error means a clean end of stream. */
export interface UpstreamEnd {
  error?: RestreamerError;
}

/**
 * One live connection attempt to one upstream URL. Created by a SourceFactory; the
 * supervisor owns it until `ended` settles.
 */
export interface UpstreamCommon {
  /** Resolves when the upstream is connected and ready to deliver data; rejects on failure. */
  readonly connected: Promise<void>;
  /** Resolves when the connection ends for any reason (after `connected` settles, or instead of it). */
  readonly ended: Promise<UpstreamEnd>;
  /** Close the connection and release everything it holds. Idempotent. */
  close(): void;
}

/** A connection (http, file, fork, tcp, unix): `connected` resolves when its transport is up. */
export interface TransportUpstream extends UpstreamCommon {
  readonly connectsOnData: false;
}

/**
 * A datagram receiver (udp, rtp, unixgram): `connected` resolves at the first datagram (a
 * bound socket proves nothing), and the supervisor's readtimeout bounds the wait for it.
 */
export interface ReceiverUpstream extends UpstreamCommon {
  readonly connectsOnData: true;
}

export type Upstream = TransportUpstream | ReceiverUpstream;

export type SourceFactory<O = SourceOptions> = (ctx: SourceContext<O>, onData: DataSink) => Upstream;

/**
 * Static description of an upstream kind, used for config validation and the registry.
 * `O` is its options type: a part of SourceOptions (a kind given all of them can use it).
 */
export interface SourceKind<O = SourceOptions> {
  /** URL schemes handled, without the colon (e.g. ['http', 'https']). */
  schemes: string[];
  /** Throws a message (string) when the URL is not usable for this kind; checked at config load. */
  validate?(url: URL): string | undefined;
  open: SourceFactory<O>;
}
