#!/bin/sh
# httpd-load.sh NAME [DOCKER RUN OPTIONS…]: the hardening test's non-root workload
# (tests/tests/e2e/hardening.rs). Runs busybox httpd from seccomp-profiler-test/busybox as container
# NAME on the host network (127.0.0.1:18081, a port ≥ 1024), serving /etc; fetches /passwd 50
# times, prints the uid it runs as (`docker exec NAME id -u`), stops and removes it. The options
# (e.g. the recommended `--user`, `--read-only`) go to `docker run`. Output: see load-lib.sh.
set -u
. "$(dirname "$0")/load-lib.sh"
name=$1
shift
HTTP=http://127.0.0.1:18081
trap 'docker rm -f "$name" >/dev/null 2>&1' EXIT

# `--init`: httpd as PID 1 would ignore docker stop's SIGTERM.
docker run -d --init --name "$name" --network host "$@" seccomp-profiler-test/busybox:latest \
    httpd -f -p 127.0.0.1:18081 -h /etc >/dev/null ||
    { fail "docker run failed"; finish; exit; }
if wait_for "$name" "$HTTP" curl -sf -o /dev/null "$HTTP/passwd"; then
    ok=$(curl -s -w '\n@@%{http_code}\n' "$HTTP/passwd?n=[1-50]" | grep -c '^@@200$')
    value requests 50
    value as_expected "$ok"
    [ "$ok" -eq 50 ] || fail "/passwd: $ok of 50 requests answered 200"
    value uid "$(docker exec "$name" id -u)"
fi
# httpd ends by SIGTERM (exit 143), so only the stop itself is checked.
docker stop "$name" >/dev/null || fail "docker stop $name failed"
finish
