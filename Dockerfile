# restreamer container image.
#
#   docker build -t restreamer .
#   docker run -d --name restreamer -p 8000:8000 \
#     -v /srv/restreamer/restreamer.json:/etc/restreamer/restreamer.json:ro restreamer
#
# The configuration is read from /etc/restreamer/restreamer.json (mount yours there, or
# pass another path as the command: `docker run ... restreamer /config/other.json`). In a
# container it must listen on all interfaces, e.g. "listen": ":8000" (the default,
# localhost:http, is unreachable from outside and port 80 needs privileges), and serve
# the health API at /health for the HEALTHCHECK below (or set RESTREAMER_HEALTH_URL).
# Logs are JSON lines on stdout (docker logs). Signals: docker stop (SIGTERM) shuts down
# cleanly; docker kill -s HUP sends SIGHUP (README.md, "Signals": log reopening, reload).
# The same image serves as origin or edge: see examples/haproxy and examples/kubernetes.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript, then keep only the runtime dependencies --------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lockfile's packages. --ignore-scripts: "prepare" would build before src/ is here.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

# --- runtime: node, the compiled program and its four runtime dependencies -----------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    RESTREAMER_HEALTH_URL=http://127.0.0.1:8000/health
WORKDIR /opt/restreamer
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
RUN ln -s /opt/restreamer/bin/restreamer.js /usr/local/bin/restreamer \
 && mkdir -p /etc/restreamer

# The official node image's unprivileged user (uid 1000). Binding below 1024 would need
# CAP_NET_BIND_SERVICE: listen on 8000 and map the port instead.
USER node
EXPOSE 8000

# Is the process serving? Healthy whether the health API says "ok" or "full": a full
# instance is working as intended and must not be restarted. (A load balancer's readiness
# check is stricter: only "ok" gets new viewers; see examples/kubernetes.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('http').get(process.env.RESTREAMER_HEALTH_URL,{timeout:2000},(r)=>{r.resume();process.exit(r.statusCode===200?0:1)}).on('timeout',function(){this.destroy()}).on('error',()=>process.exit(1))"]

# Node runs as PID 1 and handles SIGTERM/SIGINT (clean shutdown) and SIGHUP/SIGUSR1 itself,
# so `docker stop` works without an init. With fork:// upstreams that start commands which
# spawn children of their own, run with `docker run --init` so orphans are reaped.
# The V8 flag is the one of src/node-flags.ts (the container test checks they agree).
ENTRYPOINT ["node", "--max-semi-space-size=4", "/opt/restreamer/dist/src/cli.js"]
CMD ["/etc/restreamer/restreamer.json"]
