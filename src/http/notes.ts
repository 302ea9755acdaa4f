import type { ServerResponse } from 'node:http';

// What a handler learns while answering a request that the code around it reports: the
// user requireAuth accepted, the stream client the endpoint admitted. Kept beside the
// response, keyed by it, rather than as fields hung on Node's ServerResponse, so the
// shape is typed in one place and the entry goes when the response does. Written and
// read once per request, never per chunk.

/** One request's notes. */
export interface RequestNote {
  /** The user whose credentials requireAuth accepted (streams, status actions, access log). */
  user?: string;
  /** Why requireAuth refused a signed URL (token.ts's reason), for the access log; never the token. */
  reason?: string;
  /** The admitted stream client's counters, read by the access log when the response closes. */
  client?: { readonly packetsSent: number; readonly packetsDropped: number };
}

const notes = new WeakMap<ServerResponse, RequestNote>();

/** The notes of `res`, created on first use (for writing). */
export function noteFor(res: ServerResponse): RequestNote {
  let n = notes.get(res);
  if (n === undefined) notes.set(res, (n = {}));
  return n;
}

/** The notes of `res`, if a handler left any. */
export function notesOf(res: ServerResponse): Readonly<RequestNote> | undefined {
  return notes.get(res);
}
