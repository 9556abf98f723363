#!/usr/bin/env bash
# Runs the web server and the Django-Q2 worker together, and the Telegram poller when a
# bot token is set and no webhook URL is (run_bot --if-polling exits at once otherwise).
#
# Ctrl-C (or SIGTERM/SIGHUP) stops them all, every time: each child runs in its own
# process group, so the signal is forwarded to the whole group (the worker's own
# processes, runserver's reloader) and after STOP_GRACE_SECONDS (8) whatever still runs
# is killed. A qcluster stuck at "stopping" no longer keeps `make run` from exiting.
#
# Sourcing the script (instead of running it) only defines its functions, for tests.
set -euo pipefail
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}
STOP_GRACE_SECONDS=${STOP_GRACE_SECONDS:-8}

groups=()   # process-group ids of the children (each child leads its own group)
stopping=0

# start CMD...: run CMD in the background as the leader of a new process group. Job
# control is on only for this, so the child isn't in our foreground group: a terminal's
# Ctrl-C reaches this script alone, which then stops the children in order.
start() {
  set -m
  "$@" &
  groups+=($!)
  set +m
}

# Whether any non-zombie process is left in our children's groups.
alive() {
  ((${#groups[@]})) || return 1
  local list
  list=$(printf '%s\n' "${groups[@]}")
  ps -A -o pgid= -o stat= | awk -v list="$list" '
    BEGIN { n = split(list, g, "\n"); for (i = 1; i <= n; i++) want[g[i]] = 1 }
    ($1 in want) && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# stop SIGNAL: send SIGNAL to every child group, give them STOP_GRACE_SECONDS, then SIGKILL.
stop() {
  local sig=${1:-TERM} group tick
  ((stopping)) && return 0
  stopping=1
  for group in "${groups[@]}"; do kill -s "$sig" -- "-$group" 2>/dev/null || true; done
  for ((tick = 0; tick < STOP_GRACE_SECONDS * 10; tick++)); do
    alive || break
    sleep 0.1
  done
  if alive; then
    echo "run-dev: still running after ${STOP_GRACE_SECONDS}s; killing them" >&2
    for group in "${groups[@]}"; do kill -s KILL -- "-$group" 2>/dev/null || true; done
  fi
  wait 2>/dev/null || true
}

on_signal() {
  trap '' INT TERM HUP  # a second Ctrl-C must not cut the stop short; it ends in 8 s anyway
  stop "$1"
  trap - EXIT
  exit $((128 + $2))
}

main() {
  trap 'stop TERM' EXIT
  trap 'on_signal INT 2' INT
  trap 'on_signal TERM 15' TERM
  trap 'on_signal HUP 1' HUP

  # No setup_schedules here: `make run` migrates first, and migrate creates or repairs the
  # schedules and announces "Agent online" (once per 10 minutes; agentsite/schedules.py).
  start "$PY" manage.py qcluster
  start "$PY" manage.py runserver "127.0.0.1:${PORT}"
  local essential=("${groups[@]}")
  start "$PY" manage.py run_bot --if-polling  # its exit (no polling wanted) stops nothing
  # Until the web server or the worker exits (or a signal's trap exits the script).
  local status=0
  wait -n "${essential[@]}" || status=$?
  exit "$status"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
