#!/bin/sh
# compose-load.sh PROJECT [OVERRIDE.yml]: the compose test's workload (tests/tests/e2e/containers.rs).
# `docker-compose up -d` of tests/images/compose/docker-compose.yml (services web = nginx on
# 127.0.0.1:8080 and cache = redis on 127.0.0.1:6380) as project PROJECT, load against both, stop,
# and `down` (also when anything fails). OVERRIDE.yml is a second compose file, e.g. one giving each
# service a seccomp profile. Needs SP_LARGE_EXPECTED (see nginx-load.sh). Output: see load-lib.sh,
# with the keys of the stopped containers prefixed `web_` and `cache_`.
set -u
. "$(dirname "$0")/load-lib.sh"
project=$1
set -- -f "$(dirname "$0")/../images/compose/docker-compose.yml" ${2:+-f "$2"} -p "$project"
: "${SP_LARGE_EXPECTED:?the expected content of large.bin}"
tmp=$(mktemp -d)
trap 'docker-compose "$@" down >/dev/null 2>&1; rm -rf "$tmp"' EXIT

web=${project}_web_1
cache=${project}_cache_1
if docker-compose "$@" up -d; then
    if wait_for_nginx "$web" && wait_for_redis "$cache"; then
        http_round 100
        redis_round 500
    fi
    http_totals
    # 1 when web runs under a profile of ours (the override), 0 under Docker's default.
    case $(docker inspect -f '{{json .HostConfig.SecurityOpt}}' "$web") in
    *seccomp=*) value web_profiled 1 ;;
    *) value web_profiled 0 ;;
    esac
    docker-compose "$@" stop || fail "docker-compose stop failed"
    check_stopped "$web" web_
    check_stopped "$cache" cache_
else
    fail "docker-compose up failed"
fi
if docker-compose "$@" down; then
    trap 'rm -rf "$tmp"' EXIT
else
    fail "docker-compose down failed"
fi
finish
