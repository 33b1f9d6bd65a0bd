# Phoenix container image: the release tarball of `npm run release`, installed as on an EC2 host
# (/opt/phoenix/current, the programs on PATH). One image for every role of docker-compose.yml:
# the local cloud, masters, minions and the CLI (deploy/docker/entrypoint.sh).
#
#   docker build -t phoenix:local .

FROM node:20-bookworm-slim AS build
WORKDIR /src
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/store/package.json packages/store/
COPY packages/state/package.json packages/state/
COPY packages/api/package.json packages/api/
COPY packages/devstack/package.json packages/devstack/
COPY packages/master/package.json packages/master/
COPY packages/minion/package.json packages/minion/
COPY packages/cli/package.json packages/cli/
COPY packages/dashboard/package.json packages/dashboard/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json README.md ./
COPY packages packages
COPY scripts scripts
COPY deploy deploy
COPY docs docs
RUN node scripts/release.js --out /release

FROM node:20-bookworm-slim
# Masters fetch git roots (states and pillar from git) with the system git and ssh.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /release/ /tmp/release/
RUN mkdir -p /opt/phoenix/releases \
 && tar -xzf /tmp/release/phoenix-*.tar.gz -C /opt/phoenix/releases \
 && ln -s "$(ls -d /opt/phoenix/releases/phoenix-*)" /opt/phoenix/current \
 && for bin in phoenix phoenix-master phoenix-minion; do ln -s "/opt/phoenix/current/bin/$bin" "/usr/local/bin/$bin"; done \
 && rm -rf /tmp/release \
 && mkdir -p /etc/phoenix /var/lib/phoenix/shared /var/lib/phoenix/minion
ENV NODE_ENV=production
# Masters: enrol, minion, peer, API. The compose file gives a second master other ports.
EXPOSE 4505 4506 4507 8080
ENTRYPOINT ["/opt/phoenix/current/deploy/docker/entrypoint.sh"]
CMD ["phoenix", "--help"]
