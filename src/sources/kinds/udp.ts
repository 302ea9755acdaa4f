import { DatagramUpstream, type DatagramOptions } from '../datagram.js';
import { validateDatagramUrl } from '../multicast.js';
import type { DataSink, SourceContext, SourceKind } from '../source.js';

// udp://host:port (unicast: bind and receive), udp://GROUP:PORT (multicast join) and
// udp://SOURCE@GROUP:PORT (source-specific join): each datagram's payload as it is (see
// ../datagram.ts).

export const udpKind: SourceKind<DatagramOptions> = {
  schemes: ['udp'],
  validate: validateDatagramUrl,
  open(ctx: SourceContext<DatagramOptions>, onData: DataSink) {
    return new DatagramUpstream(ctx, onData).start();
  },
};
