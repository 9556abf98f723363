#!/usr/bin/env bash
# Runs the web server and the Django-Q2 worker together, and the Telegram poller when a
# bot token is set and no webhook URL is (run_bot --if-polling exits at once otherwise);
# Ctrl-C stops them all.
set -euo pipefail
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}

pids=()
extra=()  # started alongside, but their exit does not stop the others
cleanup() {
  for pid in "${pids[@]}" "${extra[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$PY" manage.py setup_schedules --announce
"$PY" manage.py qcluster &
pids+=($!)
"$PY" manage.py runserver "127.0.0.1:${PORT}" &
pids+=($!)
"$PY" manage.py run_bot --if-polling &
extra+=($!)
wait -n "${pids[@]}"
