# shellcheck shell=sh
# Helpers for the workload scripts of `cargo xtask profiles` (sourced, not run on their own).
#
# A workload must do the same things every run, or its profile changes from run to run: the
# scripts wait for each step to finish (a server answering, a worker replaced, a save done) instead
# of sleeping, and every check that does not hold ends the script with `FAIL: …` on stderr and
# exit 1, so a broken load never turns into a profile that merely looks smaller.
# Servers run on the host network and bind 127.0.0.1 only.

# die MESSAGE: fail the workload. When the script has set $name, the container's last log lines
# follow: a server that found its port taken (by another test run) says `Address already in use`
# there, which `cargo xtask profiles` takes as a reason to wait and run the workload again.
die() {
    echo "FAIL: $*" >&2
    if [ -n "${name:-}" ]; then
        echo "last lines of the log of $name:" >&2
        docker logs "$name" 2>&1 | tail -5 >&2
    fi
    exit 1
}

# wait_until WHAT CMD…: retry CMD every 50 ms until it succeeds; give up (FAIL: WHAT) after 10 s.
wait_until() {
    what=$1
    shift
    deadline=$(($(date +%s) + 10))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || die "$what within 10 s"
        sleep 0.05
    done
}

running() {
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}

# wait_for_server NAME WHAT CMD…: like wait_until, but container NAME must keep running: a server
# that exited (say, its port was taken) must not pass because another one answered.
wait_for_server() {
    name=$1
    what=$2
    shift 2
    deadline=$(($(date +%s) + 10))
    until "$@" >/dev/null 2>&1; do
        running "$name" || die "container $name stopped before it answered"
        [ "$(date +%s)" -lt "$deadline" ] || die "$what within 10 s"
        sleep 0.05
    done
    running "$name" || die "container $name is not running"
}

# get_n N URL: N GETs of URL (a curl URL glob on one connection where the server keeps it alive);
# every one must answer 200.
get_n() {
    ok=$(curl -s -m 10 -w '\n@@%{http_code}\n' "$2?n=[1-$1]" | grep -c '^@@200$')
    [ "$ok" -eq "$1" ] || die "GET $2: $ok of $1 requests answered 200"
}

# expect CODE URL: one GET that must answer CODE.
expect() {
    got=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$2")
    [ "$got" = "$1" ] || die "GET $2 answered '$got', not $1"
}

# stopped_cleanly NAME: the stopped container exited 0.
stopped_cleanly() {
    code=$(docker inspect -f '{{.State.ExitCode}}' "$1")
    [ "$code" = 0 ] || die "$1 exited $code after docker stop"
}
