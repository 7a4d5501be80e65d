# next-standalone.Dockerfile with the runner on the distroless Node image instead of the full
# Node image: the same deps and builder stages, and a runtime of the kind distill makes (no
# shell, no npm, node as the entrypoint, user 65532). A tighter yardstick for image size than
# Next's own runner, which carries npm, a shell and the OS's package tools.
#   RUNTIME_IMAGE=local/distroless-nodejs24:latest stands in for gcr.io/distroless/nodejs24-debian13.
ARG NODE_IMAGE=local/node:24
ARG RUNTIME_IMAGE=local/distroless-nodejs24:latest

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci

FROM ${NODE_IMAGE} AS builder
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
ENV NEXT_TELEMETRY_DISABLED=1
RUN npm run build

FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
ENV NEXT_TELEMETRY_DISABLED=1
COPY --from=builder /app/public ./public
COPY --from=builder --chown=65532:65532 /app/.next/standalone ./
COPY --from=builder --chown=65532:65532 /app/.next/static ./.next/static
USER 65532:65532
EXPOSE 3000
ENV PORT=3000
ENV HOSTNAME="0.0.0.0"
CMD ["server.js"]
