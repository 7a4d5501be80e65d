# shellcheck shell=bash
# Apps that bring their own Dockerfile (bench/build/apps/<app>/ with a Dockerfile.in, copied into
# the harness copy's apps/ by bench/build/run.ts), for the copy of the shared peers harness:
# sourced at the end of its lib.sh, this replaces prepare_app_dir and bump_marker for those apps;
# the harness's own apps (package.json, package-lock.json, index.js) go through the originals.
#   - the working copy is the whole app (src/, tsconfig.json, ...) without node_modules or dist/,
#     plus its own Dockerfile (placeholders filled) and a .dockerignore
#   - the warm change is the "// build-marker: N" line of src/index.ts
#   - its builder image is local/node:24 with python3, make and g++ (NATIVE_BUILDER_IMAGE), what
#     node-gyp needs and the public node:24 image has; made once, before anything is timed
#     (remove it to make it again: docker image rm local/node:24-build)

NATIVE_BUILDER_IMAGE="${NATIVE_BUILDER_IMAGE:-local/node:24-build}"

# The harness's own versions, kept under other names.
eval "harness_$(declare -f prepare_app_dir)"
eval "harness_$(declare -f bump_marker)"

# node-gyp downloads Node's headers from nodejs.org unless told where they are; nodejs.org is not
# reachable here, so the image points it at the headers $BUILDER_IMAGE carries (as distill does
# with the target Node's own), the way NODE_EXTRA_CA_CERTS adapts it to this machine's proxy.
ensure_native_builder() {
  "$DOCKER" image inspect "$NATIVE_BUILDER_IMAGE" >/dev/null 2>&1 && return 0
  log "making $NATIVE_BUILDER_IMAGE: $BUILDER_IMAGE with python3, make and g++ for node-gyp"
  printf '%s\n' "FROM $BUILDER_IMAGE" \
    'RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*' \
    'ENV npm_config_nodedir=/usr/local' |
    "$DOCKER" build --network host -q -t "$NATIVE_BUILDER_IMAGE" - >/dev/null ||
    die "could not make $NATIVE_BUILDER_IMAGE"
}

prepare_app_dir() {
  local app=$1 src="$APPS_SRC/$1" dst="$APPS/$1"
  if [ ! -f "$src/Dockerfile.in" ]; then
    harness_prepare_app_dir "$app"
    return
  fi
  ensure_native_builder
  rm -rf "$dst" && mkdir -p "$dst"
  (cd "$src" && tar --exclude=./node_modules --exclude=./dist --exclude=./Dockerfile.in -cf - .) | tar -C "$dst" -xf -
  sed -e "s#@NATIVE_BUILDER_IMAGE@#$NATIVE_BUILDER_IMAGE#" -e "s#@RUNTIME_IMAGE@#$RUNTIME_IMAGE#" \
    "$src/Dockerfile.in" >"$dst/Dockerfile"
  printf 'node_modules\ndist\nDockerfile\n.dockerignore\n' >"$dst/.dockerignore"
}

bump_marker() {
  local f="$APPS/$1/src/index.ts"
  if [ ! -f "$f" ]; then
    harness_bump_marker "$1"
    return
  fi
  grep -q '^// build-marker: [0-9]*$' "$f" || { echo "no build-marker line in $f" >&2; return 1; }
  sed -i "s#^// build-marker: [0-9]*\$#// build-marker: $(date +%s%N)#" "$f"
}
export -f bump_marker harness_bump_marker
