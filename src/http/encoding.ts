// Content negotiation shared by the processes that answer a scrape: a multi-process
// worker re-emits "takes gzip" to the primary (cluster/primary-proxy.ts), where the
// metrics decide (metrics/prometheus.ts). One rule, so both modes answer alike.

/**
 * True when an Accept-Encoding header allows gzip (RFC 9110 12.5.3): `gzip` (or `x-gzip`)
 * listed, or else `*`, with a q-value above 0. An explicit `gzip;q=0` wins over `*`.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star = false;
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    const coding = name.trim();
    if (coding === 'gzip' || coding === 'x-gzip') return ok;
    if (coding === '*') star = ok;
  }
  return star;
}
