# Next.js's documented Docker build for `output: "standalone"` (examples/with-docker in the
# Next.js repository, which its self-hosting docs point to): a deps stage, a builder stage, and
# a runner on the same Node image that receives only .next/standalone, .next/static and public/
# and runs server.js as an unprivileged user. Written again here for npm (the generated app's
# package manager) and for the local stand-ins of the public images that the peers harness
# makes, since no registry on the internet is reachable (../shared/peers/10-base-images.sh):
#   NODE_IMAGE=local/node:24 stands in for node:24-alpine. It is Debian (minbase + the official
#   Node 24 + npm), so there is no `apk add libc6-compat`, and the user and group are made with
#   groupadd/useradd instead of addgroup/adduser.
# Build it from the app's directory, with next-standalone.dockerignore as its .dockerignore:
#   docker build --network host -f next-standalone.Dockerfile -t NAME .
ARG NODE_IMAGE=local/node:24

FROM ${NODE_IMAGE} AS base

# Dependencies, only when the lockfile changes.
FROM base AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci

# The build, when the code changes.
FROM base AS builder
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
ENV NEXT_TELEMETRY_DISABLED=1
RUN npm run build

# The production image: the traced server and its assets, nothing else of the build.
FROM base AS runner
WORKDIR /app
ENV NODE_ENV=production
ENV NEXT_TELEMETRY_DISABLED=1
RUN groupadd --system --gid 1001 nodejs && useradd --system --uid 1001 --gid nodejs nextjs
COPY --from=builder /app/public ./public
COPY --from=builder --chown=nextjs:nodejs /app/.next/standalone ./
COPY --from=builder --chown=nextjs:nodejs /app/.next/static ./.next/static
USER nextjs
EXPOSE 3000
ENV PORT=3000
ENV HOSTNAME="0.0.0.0"
CMD ["node", "server.js"]
