import http from 'node:http';
import type { Handler } from '../http/server.js';

/**
 * Worker side of API and static resources in multi-process mode: the primary has the
 * whole instance's figures (and the one static cache), so the request, already
 * authorised and logged here, is passed to its internal socket and the answer relayed.
 */
export function primaryProxy(socketPath: string): Handler {
  return (req, res) => {
    const headers = { ...req.headers };
    delete headers.connection;
    delete headers['keep-alive'];
    const up = http.request({ socketPath, path: req.url, method: req.method, headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.setTimeout(5000, () => up.destroy(new Error('primary did not answer')));
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' });
      res.end('502 bad gateway');
    });
    up.end();
  };
}
