import { createAuthorizer, type Authorizer, type Userlist } from '../auth/auth.js';
import type { Config, ResourceConfig } from '../config/schema.js';
import type { Handler } from '../http/server.js';
import { absoluteUrl, requestBase, TrustedProxies, type RequestBase } from './urls.js';

// The "playlist" API: an M3U of every stream the caller may watch, with absolute URLs,
// for VLC, Kodi and IPTV apps. Built from the configuration only, so it is the same in
// every process (a worker answers it itself in multi-process mode).

export interface PlaylistEntry { name: string; path: string }

/** `tvg-name` is a quoted attribute: no double quotes; no line breaks anywhere. */
function attr(s: string): string {
  return oneLine(s).replace(/"/g, "'");
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

/** The M3U text: `#EXTM3U`, then `#EXTINF:-1 tvg-name="NAME",NAME` and the URL per stream. */
export function buildPlaylist(base: RequestBase, entries: readonly PlaylistEntry[]): string {
  let out = '#EXTM3U\n';
  for (const e of entries) {
    out += `#EXTINF:-1 tvg-name="${attr(e.name)}",${oneLine(e.name)}\n${absoluteUrl(base, e.path)}\n`;
  }
  return out;
}

interface PlaylistStream extends PlaylistEntry { authorize: Authorizer }

export interface PlaylistOptions {
  /** The stream resources, in configuration order. */
  streams: readonly Pick<ResourceConfig, 'serve' | 'name' | 'authentication'>[];
  userlist: Userlist;
  trusted: TrustedProxies;
}

/**
 * GET: the playlist, listing only the streams whose authentication the caller's own
 * Authorization header passes (the same header the player will send).
 */
function playlistHandler(o: PlaylistOptions): Handler {
  const streams: PlaylistStream[] = o.streams.map((r) => ({
    name: r.name || r.serve,
    path: r.serve,
    authorize: createAuthorizer(r.authentication, o.userlist),
  }));
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': '0' }).end();
      return;
    }
    const base = requestBase(req.headers, req.socket.remoteAddress, o.trusted);
    if (!base) {
      const msg = '400 bad request: no valid Host header\n';
      res.writeHead(400, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(msg) }).end(msg);
      return;
    }
    const auth = req.headers.authorization;
    const body = buildPlaylist(base, streams.filter((s) => s.authorize(auth).ok));
    res.writeHead(200, {
      'Content-Type': 'audio/x-mpegurl; charset=utf-8',
      'Content-Disposition': 'inline; filename="playlist.m3u"',
      'Cache-Control': 'no-cache',
      // It depends on who asks and through which host.
      Vary: 'Authorization, Host, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Port, X-Forwarded-Prefix',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** The playlist of a configuration: it needs nothing else, so any process (worker included) answers it. */
export function createPlaylist(cfg: Config): Handler {
  return playlistHandler({
    streams: cfg.resources.filter((r) => r.type === 'stream'),
    userlist: cfg.userlist,
    trusted: new TrustedProxies(cfg.trustedproxies),
  });
}
