#!/usr/bin/env bash
# Every package's tests, on two lanes of about equal length: the api suite (the longest; much of
# its time is spent waiting on timers and processes) and then the dashboard's, beside all the other
# packages one after another. turbo's own --concurrency=2 picks the order itself and may leave the
# api suite for last. (Clean-clone run, 2026-12-06: api 1,457 s, web 317 s, the rest 1,700 s.)
#
# The builds the infra suite runs against come first, and the lanes run with --only so that no
# build happens while a suite runs: a Vite build empties apps/web/dist, and a dashboard browser
# test whose server serves it at that moment finds no page (three failed so in CI, 2026-12-06).
set -u
turbo run build --filter='@crucible/infra^...' --output-logs=errors-only || exit 1
turbo run test --only --filter=@crucible/api --filter=@crucible/web --concurrency=1 --continue &
first=$!
turbo run test --only --filter='!@crucible/api' --filter='!@crucible/web' --concurrency=1 --continue
rest=$?
wait "$first"
status=$?
[ "$status" -eq 0 ] && status=$rest
exit "$status"
