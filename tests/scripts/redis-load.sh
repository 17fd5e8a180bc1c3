#!/bin/sh
# redis-load.sh NAME [DOCKER RUN OPTIONS…]: the redis test's workload (tests/tests/e2e/containers.rs).
# Runs seccomp-profiler-test/redis as container NAME on the host network (127.0.0.1:6380), runs
# redis-benchmark against it, checks the data, makes it BGSAVE (a forked child writes the RDB),
# stops it and removes it. The options (e.g. `--security-opt seccomp=FILE`) go to `docker run`.
# Output: see load-lib.sh.
set -u
. "$(dirname "$0")/load-lib.sh"
name=$1
shift
trap 'docker rm -f "$name" >/dev/null 2>&1' EXIT

docker run -d --name "$name" --network host "$@" seccomp-profiler-test/redis:latest >/dev/null ||
    { fail "docker run failed"; finish; exit; }
if wait_for_redis "$name"; then
    redis_round 2000
fi
stop_container "$name" ""
finish
