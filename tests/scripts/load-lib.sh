# shellcheck shell=sh
# Load steps shared by the container tests' scripts (sourced, not run). The scripts are the CMD of
# `seccomp-profiler record --containers -- …` and, unchanged, of the replays under the recorded
# profile, so a replay does exactly what was recorded.
#
# Protocol with tests/tests/e2e/containers.rs: every step prints `key=value` lines (numbers) on stdout;
# every check that does not hold prints `FAIL: …` on stderr and counts in $failures, and the script
# then exits 1. Diagnostics (container logs) go to stderr.
#
# Servers are on the host network and bind 127.0.0.1 only: nginx on 8080, redis on 6380.

# Killed (a test's timeout sends SIGINT) or cut off (SIGPIPE): exit, so that the script's EXIT trap
# still removes its containers.
trap 'exit 129' HUP INT TERM PIPE

# SP_HTTP moves the nginx checks to another address (the capability test binds port 80).
HTTP=${SP_HTTP:-http://127.0.0.1:8080}
REDIS_PORT=6380
failures=0
# Totals over all HTTP rounds: requests made, requests answered as expected, TCP connections opened.
requests=0
as_expected=0
connections=0
large_ok=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

value() {
    echo "$1=$2"
}

running() {
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}

# wait_for NAME WHAT CMD…: retry CMD every 50 ms for at most 10 s while container NAME runs.
wait_for() {
    name=$1
    what=$2
    shift 2
    tries=0
    until "$@" >/dev/null 2>&1; do
        if ! running "$name"; then
            fail "$name stopped before $what answered"
            docker logs "$name" >&2 2>&1
            return 1
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 200 ]; then
            fail "$what did not answer within 10 s"
            return 1
        fi
        sleep 0.05
    done
}

wait_for_nginx() {
    wait_for "$1" "$HTTP" curl -sf -o /dev/null "$HTTP/"
    requests=$((requests + 1))
    as_expected=$((as_expected + 1))
    connections=$((connections + 1))
}

redis_pong() {
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

wait_for_redis() {
    wait_for "$1" "redis on 127.0.0.1:$REDIS_PORT" redis_pong
}

# http_round N: N requests for index.html on N connections (`Connection: close`), the index page
# through the `index` directive, a 404, and the 1 MiB large.bin compared byte for byte with
# $SP_LARGE_EXPECTED.
http_round() {
    n=$1
    # A URL glob makes one curl run N transfers; the write-out line follows each 133-byte body.
    ok=$(curl -s -H 'Connection: close' -w '\n@@%{http_code} %{size_download} %{num_connects}\n' \
        "$HTTP/index.html?n=[1-$n]" | grep -c '^@@200 133 1$')
    requests=$((requests + n))
    connections=$((connections + n))
    as_expected=$((as_expected + ok))
    [ "$ok" -eq "$n" ] || fail "index.html: $ok of $n requests answered 200 with the 133-byte page"

    requests=$((requests + 1))
    connections=$((connections + 1))
    case $(curl -s "$HTTP/") in
    *'seccomp-profiler test page'*) as_expected=$((as_expected + 1)) ;;
    *) fail "/ did not answer with the test page" ;;
    esac

    requests=$((requests + 1))
    connections=$((connections + 1))
    code=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP/no-such-page")
    if [ "$code" = 404 ]; then
        as_expected=$((as_expected + 1))
    else
        fail "/no-such-page answered $code, not 404"
    fi

    requests=$((requests + 1))
    connections=$((connections + 1))
    got=$(curl -s -o "$tmp/large.bin" -w '%{http_code} %{size_download}' "$HTTP/large.bin")
    if [ "$got" = "200 1048576" ] && cmp -s "$tmp/large.bin" "$SP_LARGE_EXPECTED"; then
        as_expected=$((as_expected + 1))
        large_ok=$((large_ok + 1))
    else
        fail "large.bin: got '$got' (status, bytes), or content differs from $SP_LARGE_EXPECTED"
    fi
    rm -f "$tmp/large.bin"
}

http_totals() {
    value requests "$requests"
    value as_expected "$as_expected"
    value connections "$connections"
    value large_ok "$large_ok"
}

# nginx_pids NAME master|worker: seen from the host (`docker top` runs ps outside the container,
# so checking adds nothing to the container's syscalls).
nginx_pids() {
    docker top "$1" -o pid,args | awk -v role="nginx: $2 process" 'index($0, role) { print $1 }'
}

# nginx_reload NAME: `docker exec NAME nginx -s reload` must exit 0 and the master must replace its
# worker (a master that fails to re-read its config or to fork keeps the old worker).
nginx_reload() {
    name=$1
    master=$(nginx_pids "$name" master)
    old=$(nginx_pids "$name" worker)
    docker exec "$name" nginx -s reload
    rc=$?
    value reload_exit "$rc"
    [ "$rc" -eq 0 ] || fail "nginx -s reload exited $rc"
    replaced=0
    tries=0
    while [ "$tries" -lt 200 ]; do
        new=$(nginx_pids "$name" worker)
        if [ -n "$new" ] && [ -n "$old" ]; then
            still=0
            for pid in $old; do
                case " $(echo $new) " in *" $pid "*) still=1 ;; esac
            done
            if [ "$still" -eq 0 ]; then
                replaced=1
                break
            fi
        fi
        tries=$((tries + 1))
        sleep 0.05
    done
    value worker_replaced "$replaced"
    [ "$replaced" -eq 1 ] || fail "reload: worker(s) '$old' still running after 10 s (now '$new')"
    same=0
    [ -n "$master" ] && [ "$(nginx_pids "$name" master)" = "$master" ] && same=1
    value master_kept "$same"
    [ "$same" -eq 1 ] || fail "reload: the master process changed (it should only re-read its config)"
}

redis_info() {
    redis-cli -p "$REDIS_PORT" info persistence | tr -d '\r' | awk -F: -v key="$1" '$1 == key { print $2 }'
}

# redis_round N: redis-benchmark (SET, GET, INCR, LPUSH; N requests each, 50 connections per test),
# its results read back, a key of our own, then a BGSAVE (redis forks a child that writes the RDB)
# that must finish with status ok.
redis_round() {
    n=$1
    redis-cli -p "$REDIS_PORT" del mylist counter:__rand_int__ >/dev/null
    tests=$(redis-benchmark -p "$REDIS_PORT" -n "$n" -q -t set,get,incr,lpush 2>&1 |
        tr '\r' '\n' | grep -cE '^(SET|GET|INCR|LPUSH): [0-9.]+ requests per second')
    value bench_tests "$tests"
    [ "$tests" -eq 4 ] || fail "redis-benchmark finished $tests of 4 tests"
    llen=$(redis-cli -p "$REDIS_PORT" llen mylist)
    counter=$(redis-cli -p "$REDIS_PORT" get counter:__rand_int__)
    value lpush_len "$llen"
    value incr_value "$counter"
    [ "$llen" = "$n" ] || fail "LLEN mylist = $llen after $n LPUSH"
    [ "$counter" = "$n" ] || fail "counter = $counter after $n INCR"
    redis-cli -p "$REDIS_PORT" set sp:key sp-value >/dev/null
    [ "$(redis-cli -p "$REDIS_PORT" get sp:key)" = sp-value ] || fail "GET sp:key did not return sp-value"

    saves=$(redis_info rdb_saves)
    started=$(redis-cli -p "$REDIS_PORT" bgsave)
    [ "$started" = "Background saving started" ] || fail "BGSAVE answered '$started'"
    tries=0
    while [ "$tries" -lt 200 ]; do
        [ "$(redis_info rdb_bgsave_in_progress)" = 0 ] && [ "$(redis_info rdb_saves)" != "$saves" ] && break
        tries=$((tries + 1))
        sleep 0.05
    done
    ok=0
    [ "$(redis_info rdb_bgsave_in_progress)" = 0 ] && [ "$(redis_info rdb_saves)" != "$saves" ] &&
        [ "$(redis_info rdb_last_bgsave_status)" = ok ] && [ "$(redis_info rdb_changes_since_last_save)" = 0 ] &&
        ok=1
    value bgsave_ok "$ok"
    [ "$ok" -eq 1 ] || fail "BGSAVE did not finish with status ok: $(redis-cli -p "$REDIS_PORT" info persistence | tr -d '\r' | grep -E '^rdb_' | tr '\n' ' ')"
}

# check_stopped NAME KEY_PREFIX: a stopped container's exit code and whether its log mentions a
# refused syscall. Must run before the container is removed.
check_stopped() {
    name=$1
    prefix=$2
    code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
    value "${prefix}exit_code" "$code"
    [ "$code" = 0 ] || fail "$name exited $code after docker stop"
    # EPERM from a syscall outside the profile, or ENOSYS from the profile's probe rule, in the
    # server's own messages.
    refused=$(docker logs "$name" 2>&1 | grep -ciE 'operation not permitted|function not implemented|\[(emerg|alert|crit)\]')
    value "${prefix}log_errors" "$refused"
    if docker logs "$name" 2>&1 | grep -q 'Address already in use'; then
        fail "$name could not bind its port: another server (another test's container?) holds it: $(docker ps --format '{{.Names}}' | tr '\n' ' ')"
    fi
    if [ "$refused" -ne 0 ]; then
        fail "$name logged errors"
        docker logs "$name" 2>&1 | grep -iE 'operation not permitted|function not implemented|\[(emerg|alert|crit)\]' >&2
    fi
}

# stop_container NAME KEY_PREFIX: `docker stop`, then check_stopped.
stop_container() {
    if ! docker stop "$1" >/dev/null; then
        fail "docker stop $1 failed"
        return
    fi
    check_stopped "$1" "$2"
}

finish() {
    value failures "$failures"
    [ "$failures" -eq 0 ]
}
