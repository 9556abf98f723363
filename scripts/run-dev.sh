#!/usr/bin/env bash
# Runs the web server and the Django-Q2 worker together; Ctrl-C stops both.
set -euo pipefail
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$PY" manage.py setup_schedules --announce
"$PY" manage.py qcluster &
pids+=($!)
"$PY" manage.py runserver "127.0.0.1:${PORT}" &
pids+=($!)
wait -n "${pids[@]}"
