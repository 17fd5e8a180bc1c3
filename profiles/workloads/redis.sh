#!/bin/sh
# redis: the redis image (redis 7.0, user redis) on 127.0.0.1:6380 (host network):
# `redis-benchmark -n 1000 -q -t set,get`, a BGSAVE waited for until it finished with status ok
# (redis forks a child that writes /data/dump.rdb), `docker stop`. Recorded by `cargo xtask
# profiles` with `seccomp-profiler record --containers -- profiles/workloads/redis.sh`.
set -u
. "$(dirname "$0")/lib.sh"
name=sp-profile-redis
port=6380
trap 'docker rm -f "$name" >/dev/null 2>&1' EXIT

pong() {
    [ "$(redis-cli -p "$port" ping)" = PONG ]
}

persistence() {
    redis-cli -p "$port" info persistence | tr -d '\r' | awk -F: -v key="$1" '$1 == key { print $2 }'
}

saved() {
    [ "$(persistence rdb_bgsave_in_progress)" = 0 ] && [ "$(persistence rdb_saves)" != "$saves" ]
}

docker run -d --name "$name" --network host seccomp-profiler-test/redis:latest >/dev/null ||
    die "docker run failed"
wait_for_server "$name" "redis did not answer PING on 127.0.0.1:$port" pong
tests=$(redis-benchmark -p "$port" -n 1000 -q -t set,get 2>&1 |
    tr '\r' '\n' | grep -cE '^(SET|GET): [0-9.]+ requests per second')
[ "$tests" -eq 2 ] || die "redis-benchmark finished $tests of 2 tests"
saves=$(persistence rdb_saves)
started=$(redis-cli -p "$port" bgsave)
[ "$started" = "Background saving started" ] || die "BGSAVE answered '$started'"
wait_until "BGSAVE did not finish" saved
status=$(persistence rdb_last_bgsave_status)
[ "$status" = ok ] || die "BGSAVE finished with status '$status'"
docker stop "$name" >/dev/null || die "docker stop failed"
stopped_cleanly "$name"
