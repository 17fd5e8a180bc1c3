#!/bin/sh
# python3-http-server: the load for `python3 -m http.server 8090 --bind 127.0.0.1 --directory
# profiles/workloads`, which `cargo xtask profiles` records (`record --duration 3s`) while it runs
# this script next to it: 14 GETs, each on its own connection (http.server speaks HTTP/1.0 and
# answers each on a new thread): the directory listing, scripts of this directory, a 404.
set -u
. "$(dirname "$0")/lib.sh"
url=http://127.0.0.1:8090

wait_until "python3 -m http.server did not answer on $url" curl -sf -m 1 -o /dev/null "$url/"
get_n 4 "$url/"
get_n 4 "$url/lib.sh"
get_n 4 "$url/nginx.sh"
expect 404 "$url/no-such-file"
