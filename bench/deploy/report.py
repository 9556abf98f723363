"""The printed figures of the deployment-shaped run."""

import json
import time

from .common import T0


def report(f: dict, failures: list[str]) -> None:
    def g(key, fmt="{}"):
        return fmt.format(f[key]) if key in f else "-"

    gaps = f.get("gaps") or []
    health = f.get("health")
    print("deploy-shaped run: migrate, gunicorn (2 workers), 2 x qcluster, PostgreSQL + Redis, fake APIs")
    print(f"  settings                      {g('settings')}")
    print(f"  schedules after migrate alone {g('schedules_from_migrate')} (no setup_schedules)")
    print(f"  cycles (not skipped)          {g('cycles')}: completed {g('completed')}, awaiting approval "
          f"{g('awaiting_approval')}, abandoned {g('abandoned')}, other failures {g('failed_other')}")
    print(f"  ticks that met the lock       {g('skipped_locked')}")
    print(f"  max cycles in flight          {g('max_in_flight')} (overlapping cycles: {g('overlaps')})")
    if gaps:
        print(f"  between cycle starts          {min(gaps):.0f}-{max(gaps):.0f} s (mean {sum(gaps)/len(gaps):.0f} s; "
              f"tick schedule pulled forward {g('nudges')} times)")
    print(f"  model calls by cluster        {g('calls_by_cluster')}")
    print(f"  approval over the API         #{g('approval_id')} {g('approval_status')}, "
          f"its message delivered {g('approved_deliveries')} time(s)")
    print(f"  notifications                 {g('notifications')} rows, {g('delivered')} delivered, "
          f"duplicates {g('duplicates')}, lost {g('lost')}; failed first sends retried {g('failed_sends')}")
    print(f"  SIGKILL mid-cycle             cluster {g('victim')} (cycle #{g('dead_cycle')}); survivor "
          f"{g('survivor')} made {g('post_kill_calls')} call(s) after")
    print(f"  recovery (kill -> next completed cycle)  {g('recovery_s', '{:.1f}')} s, the lock's remaining "
          f"TTL of {g('lock_ttl_skipped_s', '{:.0f}')} s fast-forwarded")
    print(f"  worker_alive (clusters)       {g('clusters_alive_start')} at start, {g('clusters_alive_after_kill')} after the kill")
    if health:
        print(f"  /health                       {health[0]} scheduler={json.dumps(health[1])}")
    print(f"  wall time                     {time.monotonic() - T0:.0f} s (set-up {g('setup_s', '{:.0f}')} s)")
    print("  result                        " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
