import type { Logger } from '../log/logger.js';
import type { RestreamerError } from '../errors.js';

/**
 * What every upstream kind gets when the supervisor opens it. Timeouts that apply to
 * all kinds (connect, read/idle) are enforced by the supervisor, not by each source.
 */
export interface SourceContext {
  /** The parsed upstream URL. */
  url: URL;
  /** Stream name (the resource's serve path), for logs. */
  stream: string;
  log: Logger;
  /** Input buffer size in TS packets (`inputbuffer`): sizes socket buffers where relevant. */
  inputBufferPackets: number;
  /** Connect / response-header timeout in ms (0 = none). Sources may use it for DNS/TLS. */
  connectTimeoutMs: number;
  /** Resource options that some kinds need (multicast interface, datagram size, ...). */
  options: SourceOptions;
}

export interface SourceOptions {
  /** Network interface for multicast joins (`clientinterface`). */
  clientInterface?: string;
  /** Largest datagram accepted (`mru`). */
  mru: number;
  /** Extra per-kind options from the resource (e.g. fork arguments, file pacing). */
  [key: string]: unknown;
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
export interface Upstream {
  /** Resolves when the upstream is connected and ready to deliver data; rejects on failure. */
  readonly connected: Promise<void>;
  /** Resolves when the connection ends for any reason (after `connected` settles, or instead of it). */
  readonly ended: Promise<UpstreamEnd>;
  /** Close the connection and release everything it holds. Idempotent. */
  close(): void;
  /**
   * Datagram kinds: `connected` resolves at the first datagram (a bound socket proves
   * nothing), and the supervisor's readtimeout bounds the wait for it.
   */
  readonly connectsOnData?: boolean;
}

export type SourceFactory = (ctx: SourceContext, onData: DataSink) => Upstream;

/** Static description of an upstream kind, used for config validation and the registry. */
export interface SourceKind {
  /** URL schemes handled, without the colon (e.g. ['http', 'https']). */
  schemes: string[];
  /** Throws a message (string) when the URL is not usable for this kind; checked at config load. */
  validate?(url: URL): string | undefined;
  open: SourceFactory;
}
