#!/bin/sh
# busybox-ls: `ls /` in the busybox image, no network. Recorded by `cargo xtask profiles` with
# `seccomp-profiler record --containers -- profiles/workloads/busybox-ls.sh`.
set -eu
exec docker run --rm --network none --name sp-profile-busybox-ls \
    seccomp-profiler-test/busybox:latest ls /
