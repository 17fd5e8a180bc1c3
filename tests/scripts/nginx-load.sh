#!/bin/sh
# nginx-load.sh NAME [DOCKER RUN OPTIONS…]: the nginx test's workload (tests/tests/e2e/containers.rs).
# Runs seccomp-profiler-test/nginx as container NAME on the host network (127.0.0.1:8080), serves
# ≥ 200 requests (index, 404, the 1 MiB large.bin), reloads nginx through `docker exec`, serves the
# same again, stops it and removes it. The options (e.g. `--security-opt seccomp=FILE`) go to
# `docker run`. Needs SP_LARGE_EXPECTED: a copy of the image's large.bin. Output: see load-lib.sh.
set -u
. "$(dirname "$0")/load-lib.sh"
name=$1
shift
: "${SP_LARGE_EXPECTED:?the expected content of large.bin}"
tmp=$(mktemp -d)
trap 'docker rm -f "$name" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

docker run -d --name "$name" --network host "$@" seccomp-profiler-test/nginx:latest >/dev/null ||
    { fail "docker run failed"; finish; exit; }
if wait_for_nginx "$name"; then
    http_round 100
    nginx_reload "$name"
    http_round 100
fi
http_totals
stop_container "$name" ""
finish
