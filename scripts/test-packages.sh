#!/usr/bin/env bash
# Every package's tests, on two lanes: the api suite (the longest; most of its time is spent
# waiting on timers and processes) beside all the other packages, one after another. turbo's own
# --concurrency=2 picks the order itself and may leave the api suite for last.
set -u
turbo run test --filter=@crucible/api &
api=$!
turbo run test --filter='!@crucible/api' --concurrency=1 --continue
rest=$?
wait "$api"
status=$?
[ "$status" -eq 0 ] && status=$rest
exit "$status"
