#!/usr/bin/env bash
# Image sizes, in the same run: the Dockerfile + distroless image (docker build, BuildKit; a cache
# hit when 30-bench-docker.sh has just built the same app) and distill's images of the same app,
# dropped into a copy of the shared peers harness by bench/build/run.ts (not timed).
#   docker      the harness's Dockerfile, copied out of dockerd by skopeo into an OCI layout
#               (skopeo gzips its layers, as a docker push would)
#   default     distill build as users run it (stripped Node, safe prune, slim OS, gzip)
#   trace       --trace
#   zstd        --compression zstd
#   zstd19      --compression zstd:19 (the level that reaches issue 17's zstd target; decision 0039)
#   no-strip    --no-strip (the Node layer whole)
#   no-prune    --no-prune (the node_modules layer whole)
# Each image is an OCI layout in $SCRATCH/sizes/<app>-<variant>, measured by bench/build/sizes.ts
# with `distill inspect` (per layer: the blob's size, and its tar's size decompressed). The
# docker, default and trace images are run in dockerd, the zstd ones in podman (dockerd 20.10's classic
# store cannot take zstd layers; podman pulls them as they are), and must answer HTTP as the
# harness's run check asks; $RESULTS/sizes.tsv: app variant layout run_ok.
. "$(dirname "$0")/lib.sh"
: "${DISTILL_REPO:?set DISTILL_REPO to the distill checkout}"
ensure_dockerd
"$DOCKER" image inspect "$BUILDER_IMAGE" "$RUNTIME_IMAGE" >/dev/null || die "run 10-base-images.sh first"
CACHE="$SCRATCH/distill-cache"
SIZES="$SCRATCH/sizes"
PORT_TEST="${PORT_TEST:-18080}"
mkdir -p "$CACHE" "$SIZES" "$RESULTS/logs"
OUTF="$RESULTS/sizes.tsv"
: >"$OUTF"

distill() { DISTILL_USE_DIST=1 DISTILL_CACHE="$CACHE" node "$DISTILL_REPO/bin/distill.js" "$@"; }

variant_flags() { # VARIANT -> distill build flags
  case $1 in
  default) ;;
  trace) echo --trace ;;
  zstd) echo --compression zstd ;;
  zstd19) echo --compression zstd:19 ;;
  no-strip) echo --no-strip ;;
  no-prune) echo --no-prune ;;
  *) die "unknown variant $1" ;;
  esac
}

answers() { # ENGINE IMAGE APP [RUN] -> "ok" or "FAIL reason" (GET /; medium: /thumb and /self too)
  local engine=$1 img=$2 app=$3 runner=${4:-$1 run} cid i ok=0 res=ok ct
  if curl -s -o /dev/null "http://127.0.0.1:$PORT_TEST/" 2>/dev/null; then
    echo "FAIL port-$PORT_TEST-busy"
    return
  fi
  cid=$($runner --rm -d --network host -e PORT="$PORT_TEST" "$img") || {
    echo "FAIL docker-run"
    return
  }
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT_TEST/" 2>/dev/null; then ok=1 && break; fi
    sleep 0.05
  done
  if [ $ok = 0 ]; then
    res="FAIL no-answer"
  elif [ "$app" = medium ]; then
    ct=$(curl -fsS -o /dev/null -w '%{content_type}' "http://127.0.0.1:$PORT_TEST/thumb?w=8&h=8") || ct=none
    [ "$ct" = image/png ] || res="FAIL thumb:$ct"
    curl -fsS "http://127.0.0.1:$PORT_TEST/self" | grep -q '"upstream":"medium"' || res="FAIL self"
  fi
  [ "$res" = ok ] || $engine logs "$cid" >"$RESULTS/logs/sizes_run-fail_$(echo "$img" | tr '/:' '__').log" 2>&1 || true
  $engine rm -f "$cid" >/dev/null 2>&1 || true
  echo "$res"
}

# The runtime base docker's images start from, to tell its layers from the app's.
rm -rf "$SIZES/runtime"
skopeo copy -q "docker-daemon:$RUNTIME_IMAGE" "oci:$SIZES/runtime:latest" >/dev/null
printf -- '-\truntime\t%s\t-\n' "$SIZES/runtime" >>"$OUTF"

for app in $APP_LIST; do
  prepare_app_dir "$app"
  log "sizes: docker build $app"
  (cd "$APPS/$app" && DOCKER_BUILDKIT=1 "$DOCKER" build --network host -q -t "peers/docker-$app:latest" .) \
    >"$RESULTS/logs/sizes_docker_$app.log" 2>&1 || die "docker build $app failed (see $RESULTS/logs/sizes_docker_$app.log)"
  rm -rf "$SIZES/$app-docker"
  skopeo copy -q "docker-daemon:peers/docker-$app:latest" "oci:$SIZES/$app-docker:latest" >/dev/null
  printf '%s\tdocker\t%s\t%s\n' "$app" "$SIZES/$app-docker" "$(answers "$DOCKER" "peers/docker-$app:latest" "$app")" >>"$OUTF"
  for variant in default trace zstd zstd19 no-strip no-prune; do
    log "sizes: distill build $app ($variant)"
    rm -rf "$SIZES/$app-$variant"
    # shellcheck disable=SC2046 # the flags are words
    (cd "$APPS/$app" && distill build . -q --node "$NODE_VERSION" $(variant_flags "$variant") \
      -o "oci:$SIZES/$app-$variant:latest") >"$RESULTS/logs/sizes_distill_${app}_$variant.log" 2>&1 ||
      die "distill build $app ($variant) failed (see $RESULTS/logs/sizes_distill_${app}_$variant.log)"
    run=-
    img="peers/size-distill-$app-$variant:latest"
    case $variant in
    default | trace)
      skopeo copy -q "oci:$SIZES/$app-$variant:latest" "docker-daemon:$img" >/dev/null
      run=$(answers "$DOCKER" "$img" "$app")
      "$DOCKER" image rm "$img" >/dev/null 2>&1 || true
      ;;
    zstd | zstd19)
      skopeo copy -q "oci:$SIZES/$app-$variant:latest" "$(podman_store_ref "localhost/$img")" >/dev/null
      # podman (root) asks runc for limits above this sandbox's hard ones (test/e2e/zstd.test.ts).
      run=$(answers "$PODMAN" "localhost/$img" "$app" "$PODMAN run --ulimit nofile=1024:1024 --ulimit nproc=4096:4096")
      $PODMAN image rm "localhost/$img" >/dev/null 2>&1 || true
      ;;
    esac
    log "sizes: $app $variant: run check $run"
    printf '%s\t%s\t%s\t%s\n' "$app" "$variant" "$SIZES/$app-$variant" "$run" >>"$OUTF"
  done
done
