#!/usr/bin/env bash
# distill build of the harness's apps, dropped into a copy of the shared peers harness by
# bench/build/run.ts (the harness's own folder is read-only; its README says a new tool
# goes in as 3N-bench-<tool>.sh).
#   cold: distill's node_modules records, its kept full installs (records dev-install and
#         dev-install-app, the trees/ area) and its package-manager cache removed before each
#         build (npm downloads every package again, as docker --no-cache does); the Debian
#         packages, the Node release and the OS and Node layers stay (docker's base images
#         stay too)
#   warm: one line of index.js changed before each build (src/index.ts for bench/build/apps/)
#   distill:        pushes to the local registry (publishing included)
#   distill-layout: writes an OCI layout (the default output: the image is built and stored,
#                   as docker's ends in dockerd)
# Leaves 127.0.0.1:5000/peers/distill-<app>:latest in the registry for the inspect step.
. "$(dirname "$0")/lib.sh"
: "${DISTILL_REPO:?set DISTILL_REPO to the distill checkout}"
ensure_registry
CACHE="$SCRATCH/distill-cache"
OUT="$SCRATCH/distill-out"
mkdir -p "$CACHE" "$OUT" "$RESULTS/logs"
distill="DISTILL_USE_DIST=1 DISTILL_CACHE=$CACHE node $DISTILL_REPO/bin/distill.js"
DISTILL_USE_DIST=1 node "$DISTILL_REPO/bin/distill.js" --version >"$RESULTS/distill-version.txt"
# The node_modules records: kind "node-modules" in the store's typed records (src/store/records.ts),
# or the older hand-keyed "app-node-modules:..." records; read with jq, not matched as text.
cold_prep="rm -rf $CACHE/pm-cache $CACHE/trees; find $CACHE/meta -type f -exec jq -r 'select(.kind == \"node-modules\" or .kind == \"dev-install\" or .kind == \"dev-install-app\" or ((.key // \"\") | startswith(\"app-node-modules:\"))) | input_filename' {} + 2>/dev/null | xargs -r rm -f"

for app in $APP_LIST; do
  prepare_app_dir "$app"
  build="cd $APPS/$app && $distill build . -q --node $NODE_VERSION"
  # Base material, as docker's base images are: the Debian packages, the Node release and
  # the OS and Node layers (not timed).
  bash -c "$build -o oci:$OUT/$app:latest" >"$RESULTS/logs/distill_${app}_prime.log" 2>&1 ||
    die "distill build $app failed (see $RESULTS/logs/distill_${app}_prime.log)"
  bench distill "$app" cold "$cold_prep" "$build -o docker://$REG/peers/distill-$app:latest"
  bench distill "$app" warm "bump_marker $app" "$build -o docker://$REG/peers/distill-$app:latest"
  bench distill-layout "$app" cold "$cold_prep" "$build -o oci:$OUT/$app:latest"
  bench distill-layout "$app" warm "bump_marker $app" "$build -o oci:$OUT/$app:latest"
  # The image the inspect step measures and runs.
  bash -c "$build -o docker://$REG/peers/distill-$app:latest" >"$RESULTS/logs/distill_${app}_final.log" 2>&1 ||
    die "distill build $app failed (see $RESULTS/logs/distill_${app}_final.log)"
done
