#!/usr/bin/env bash
# Every package's tests, on two lanes of about equal length: the api suite (the longest; much of
# its time is spent waiting on timers and processes), the dashboard's and the CLI's, beside all the
# other packages one after another. turbo's own --concurrency=2 picks the order itself and may leave
# the api suite for last. Within a package vitest runs up to two files at a time where they mostly
# wait (see each vitest config).
#
# The builds the infra suite runs against come first, and the lanes run with --only so that no
# build happens while a suite runs: a Vite build empties apps/web/dist, and a dashboard browser
# test whose server serves it at that moment finds no page (three failed so in CI, 2026-12-06).
set -u
turbo run build --filter='@crucible/infra^...' --output-logs=errors-only || exit 1
turbo run test --only --filter=@crucible/api --filter=@crucible/web --filter=@crucible/cli --concurrency=1 --continue &
first=$!
turbo run test --only --filter='!@crucible/api' --filter='!@crucible/web' --filter='!@crucible/cli' --concurrency=1 --continue
rest=$?
wait "$first"
status=$?
[ "$status" -eq 0 ] && status=$rest
exit "$status"
