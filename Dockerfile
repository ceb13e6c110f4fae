# syntax=docker/dockerfile:1
# docker-cd: desired-state cache of a GitOps agent for Docker Compose hosts.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# build-ca.pem is optional (the [m] glob matches nothing when it is absent):
# the CA bundle of a TLS-intercepting proxy between the build and the npm
# registry. It is a public certificate, used only in this discarded stage.
COPY package.json package-lock.json build-ca.pe[m] ./
# The `node` devDependency ships its own binary; the image already has Node 24.
RUN if [ -f build-ca.pem ]; then export NODE_EXTRA_CA_CERTS=/app/build-ca.pem; fi \
 && npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY app.ts main.ts server.ts ./
COPY plugins plugins
COPY routes routes
COPY schemas schemas
COPY services services
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts --offline --no-audit

FROM node:24-bookworm-slim
LABEL org.opencontainers.image.title="docker-cd" \
      org.opencontainers.image.description="GitOps agent for Docker Compose hosts: desired-state cache and refresh" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/docker-cd/docker-cd"
# git, CA certificates, the ssh client (ssh repository URLs) and tini are
# all the service needs at run time; npm and the package caches are not
# (less to ship, less to patch). (prlimit, which bounds git's memory, is
# util-linux: always in Debian.)
# Compose v2 for SYNC_MODE=detect: Debian trixie's docker-compose plugin,
# installed by the same script as on a CI machine (sources stay bookworm).
# docker-cd runs the plugin binary directly for Compose. Swarm
# (SYNC_TARGET=swarm/auto on a manager) needs the docker CLI itself
# (`docker stack deploy`, `stack rm`, `stack config`): trixie's docker-cli
# 26.1, installed the same way (about 30 MB).
COPY scripts/install-compose-v2.sh scripts/install-trixie-package.sh /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates openssh-client tini \
 && bash /tmp/install-compose-v2.sh && bash /tmp/install-trixie-package.sh docker-cli \
 && rm /tmp/install-compose-v2.sh /tmp/install-trixie-package.sh \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
    /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production \
    GIT_CACHE_DIR=/var/cache/docker-cd \
    STACKS_DIR=/var/lib/docker-cd/stacks \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist ./
COPY package.json ./
# A warm module compile cache shipped in the image: even the first start
# skips compiling Fastify, zod and the rest (see server.ts).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node --input-type=module -e "await import('/app/app.js')" && chmod -R a+rX /app/.node-compile-cache
# Non-root. To read the Docker socket, add the socket's group at run time:
#   docker run --group-add "$(stat -c %g /var/run/docker.sock)" …
# (compose.yaml does this through DOCKER_GID).
# STACKS_DIR: bind-mount it at the same path on the host (the engine
# resolves bind-mount sources of the stacks on the host, not in here).
RUN mkdir -p /var/cache/docker-cd /var/lib/docker-cd/stacks \
 && chown node:node /var/cache/docker-cd /var/lib/docker-cd/stacks
USER node
VOLUME ["/var/cache/docker-cd"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini is PID 1: it reaps the git helpers whose parent died first (a timed
# out git leaves them to PID 1, and Node never reaps what it did not start:
# zombies piled up) and passes SIGTERM on to Node, which shuts down
# gracefully (main.js). `-s` keeps it a reaper under `docker run --init` /
# compose `init: true` too, where Docker's own init is PID 1.
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
# A 1 MiB young generation: see docs/design-decisions.md, "Memory".
CMD ["node", "--max-semi-space-size=1", "server.js"]
