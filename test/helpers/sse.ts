import type { IncomingMessage } from 'node:http';

/** Calls `onData` with the payload of every `data:` event of a Server-Sent Events response. */
export function readSse(res: IncomingMessage, onData: (payload: string) => void): void {
  let buf = '';
  res.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (ev.startsWith('data: ')) onData(ev.slice(6));
    }
  });
}
