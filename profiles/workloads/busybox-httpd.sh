#!/bin/sh
# busybox-httpd: busybox's httpd serving /etc of the busybox image on 127.0.0.1:8081 (host network),
# 20 GETs (19 files, one 404), then killed. Recorded by `cargo xtask profiles` with
# `seccomp-profiler record --containers -- profiles/workloads/busybox-httpd.sh`.
set -u
. "$(dirname "$0")/lib.sh"
name=sp-profile-busybox-httpd
url=http://127.0.0.1:8081
trap 'docker rm -f "$name" >/dev/null 2>&1' EXIT

docker run -d --name "$name" --network host seccomp-profiler-test/busybox:latest \
    httpd -f -p 127.0.0.1:8081 -h /etc >/dev/null || die "docker run failed"
# busybox httpd closes every connection after one response: 20 connections, 20 forked handlers.
wait_for_server "$name" "httpd did not answer on $url" curl -sf -m 1 -o /dev/null "$url/passwd"
get_n 6 "$url/passwd"
get_n 6 "$url/group"
get_n 6 "$url/nsswitch.conf"
expect 404 "$url/no-such-file"
# httpd is the container's PID 1 and sets no SIGTERM handler, so the kernel drops `docker stop`'s
# SIGTERM and Docker sends SIGKILL 10 s later: kill it at once, the outcome is the same.
docker kill "$name" >/dev/null || die "docker kill failed"
