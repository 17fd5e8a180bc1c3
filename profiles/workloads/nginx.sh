#!/bin/sh
# nginx: the nginx image (nginx 1.22, one worker) on 127.0.0.1:8080 (host network). 67 GETs in two
# rounds (the index page, a 404, the 1 MiB large.bin) around `docker exec … nginx -s reload`, with
# a wait for the new worker to replace the old one in between; then `docker stop`. Recorded by
# `cargo xtask profiles` with `seccomp-profiler record --containers -- profiles/workloads/nginx.sh`.
set -u
. "$(dirname "$0")/lib.sh"
name=sp-profile-nginx
url=http://127.0.0.1:8080
trap 'docker rm -f "$name" >/dev/null 2>&1' EXIT

# Seen from the host (`docker top` runs ps outside the container), so looking adds no syscalls.
workers() {
    docker top "$name" -o pid,args | awk 'index($0, "nginx: worker process") { print $1 }'
}

round() {
    get_n 30 "$url/index.html"
    expect 200 "$url/"
    expect 404 "$url/no-such-page"
    size=$(curl -s -m 10 -o /dev/null -w '%{http_code} %{size_download}' "$url/large.bin")
    [ "$size" = "200 1048576" ] || die "GET $url/large.bin: got '$size' (status, bytes)"
}

# A new worker is running and none of the old ones is left.
replaced() {
    now=$(workers)
    [ -n "$now" ] || return 1
    for pid in $old; do
        case " $(echo $now) " in *" $pid "*) return 1 ;; esac
    done
}

docker run -d --name "$name" --network host seccomp-profiler-test/nginx:latest >/dev/null ||
    die "docker run failed"
wait_for_server "$name" "nginx did not answer on $url" curl -sf -m 1 -o /dev/null "$url/"
round
old=$(workers)
[ -n "$old" ] || die "no nginx worker process in $name: $(docker top "$name" -o pid,args 2>&1 | tr '\n' ' ')"
docker exec "$name" nginx -s reload || die "nginx -s reload failed"
# The old worker finishes gracefully on its own time: wait for it, or its exit would be cut short
# by `docker stop` in some runs and not in others.
wait_until "the reload did not replace worker(s) $old" replaced
round
docker stop "$name" >/dev/null || die "docker stop failed"
stopped_cleanly "$name"
