"""The scenario against the running deployment and what it measures: the database (cycles,
approvals, notifications, the schedule), the fake model's calls and the fake Telegram's
messages. Fills `figures` and returns the names of the checks that failed."""

import time

from .common import CLUSTERS, MASTER, Failed, debug, http, wait_for
from .processes import alive_clusters

# agentsite.schedules.SCHEDULES (this process has no Django set up): six every minute, one hourly.
SCHEDULE_COUNT = 7


class Sampler:
    """Called between polls: the most cycles seen in flight, and the schedule nudge."""

    def __init__(self, db) -> None:
        self.db = db
        self.max_in_flight = 0
        self.nudges = 0

    def __call__(self) -> None:
        running = self.db.execute("SELECT count(*) FROM decisions_cycle WHERE status = 'running'").fetchall()[0][0]
        self.max_in_flight = max(self.max_in_flight, running)
        # The agent is due and no cycle runs: bring the tick schedule's next run to now
        # (the clusters' schedulers pick it up within ~15-30 s).
        nudged = self.db.execute(
            "UPDATE django_q_schedule SET next_run = now() WHERE name = 'agentsite: proactive tick' "
            "AND next_run > now() + interval '2 seconds' AND EXISTS (SELECT 1 FROM decisions_agentstate "
            "WHERE NOT paused AND (lock_token IS NULL OR lock_expires_at < now()) "
            "AND (next_run_at IS NULL OR next_run_at <= now()))"
        ).rowcount
        self.nudges += nudged


class Run:
    """The running deployment and the fakes, with the queries the scenario polls."""

    def __init__(self, env: dict, db, base: str, token: str, model, telegram, children, figures: dict) -> None:
        self.env, self.db, self.base, self.token = env, db, base, token
        self.model, self.telegram, self.children, self.figures = model, telegram, children, figures
        self.tick = Sampler(db)

    def q(self, sql: str, *args):
        return self.db.execute(sql, args).fetchall()

    def cycles(self, status: str, reason: str | None = None) -> int:
        sql = "SELECT count(*) FROM decisions_cycle WHERE status = %s"
        return self.q(sql + (" AND reason = %s" if reason else ""), *([status, reason] if reason else [status]))[0][0]


def run_checks(env: dict, db, base: str, token: str, model, telegram, children, figures: dict) -> list[str]:
    run = Run(env, db, base, token, model, telegram, children, figures)
    debug("clusters up")
    figures["clusters_alive_start"] = wait_for("two live clusters", lambda: alive_clusters(env) >= 2 and 2, 60, every=1)
    approval_id = _approve_the_first_request(run)
    victim, killed_at, completed_before = _kill_a_cluster_mid_call(run)
    # 4. And the next one, paced (≥ 60 s after).
    wait_for("a second survivor cycle", lambda: run.cycles("completed") > completed_before + 1, 120, tick=run.tick)
    debug("second survivor cycle")
    # 5. The outbox drains: every notification sent.
    db.execute("UPDATE django_q_schedule SET next_run = now() WHERE name = 'agentsite: deliver outbox'")
    wait_for("the outbox drained", lambda: run.q(
        "SELECT count(*) FROM decisions_notification WHERE status <> 'sent'")[0][0] == 0, 60, tick=run.tick)
    debug("outbox drained")
    health_status, health = http("GET", f"{base}/health")
    figures["health"] = (health_status, (health or {}).get("scheduler"))
    _figures(run, approval_id=approval_id, victim=victim, killed_at=killed_at)
    return _failed_checks(figures, health_status=health_status, health=health)


def _approve_the_first_request(run: Run) -> int:
    """1. The first cycle asks for approval; approve it over the API."""
    approval_id = wait_for("a pending approval", lambda: (run.q(
        "SELECT id FROM decisions_approval WHERE status = 'pending' ORDER BY id LIMIT 1") or [[None]])[0][0],
        120, tick=run.tick)
    debug("approval pending")
    status, body = http("POST", f"{run.base}/api/approvals/{approval_id}/approve/", token=run.token, body={"note": "go"})
    if status != 200:
        raise Failed(f"approving #{approval_id} over the API answered {status}: {body}")
    wait_for("the approval executed", lambda: run.q(
        "SELECT status FROM decisions_approval WHERE id = %s", approval_id)[0][0] in ("executed", "failed"),
        90, tick=run.tick)
    debug("approval decided")
    run.figures["approval_status"] = run.q("SELECT status FROM decisions_approval WHERE id = %s", approval_id)[0][0]
    return approval_id


def _kill_a_cluster_mid_call(run: Run) -> tuple[str, float, int]:
    """3. The next cycle's model call is held; kill the cluster that made it; the survivor
    takes over once the dead cycle's lock is expired."""
    run.model.hold_next = True
    wait_for("a held model call", lambda: run.model.held.is_set(), 120, tick=run.tick)
    debug("model call held")
    victim = run.model.held_by
    dead_cycle, lock_expires = run.q("SELECT c.id, s.lock_expires_at FROM decisions_cycle c, decisions_agentstate s "
                                     "WHERE c.status = 'running' ORDER BY c.id DESC LIMIT 1")[0]
    if victim not in CLUSTERS:
        raise Failed(f"the held call came from an unknown path ({victim!r})")
    run.figures["clusters_alive_before_kill"] = alive_clusters(run.env)
    killed_at = time.monotonic()
    run.children.kill(f"qcluster-{victim}")
    victim_proc = run.children.procs[f"qcluster-{victim}"]
    wait_for("the killed cluster gone", lambda: victim_proc.poll() is not None
             and not run.children.group_alive(victim_proc.pid), 10, every=0.1)
    ttl_left = run.q("SELECT extract(epoch FROM %s::timestamptz - now())", lock_expires)[0][0]
    run.figures["lock_ttl_skipped_s"] = float(ttl_left)
    run.db.execute("UPDATE decisions_agentstate SET lock_expires_at = now() - interval '1 second' "
                   "WHERE lock_token IS NOT NULL")
    completed_before = run.cycles("completed")
    wait_for("the dead cycle abandoned", lambda: run.q(
        "SELECT status, reason FROM decisions_cycle WHERE id = %s", dead_cycle)[0] == ("failed", "abandoned"),
        90, tick=run.tick)
    wait_for("a cycle completed by the survivor", lambda: run.cycles("completed") > completed_before, 90, tick=run.tick)
    debug("survivor completed a cycle")
    run.figures["recovery_s"] = time.monotonic() - killed_at
    run.figures["clusters_alive_after_kill"] = wait_for(
        "one live cluster", lambda: (n := alive_clusters(run.env)) == 1 and n, 20, every=1)
    run.figures.update(dead_cycle=dead_cycle, victim=victim, survivor=next(c for c in CLUSTERS if c != victim))
    return victim, killed_at, completed_before


def _figures(run: Run, *, approval_id: int, victim: str, killed_at: float) -> None:
    rows = run.q("SELECT id, status, reason, started_at, finished_at FROM decisions_cycle ORDER BY started_at, id")
    real = [r for r in rows if r[1] != "skipped"]
    starts = [r[3] for r in real]
    model, telegram = run.model, run.telegram
    notes = run.q("SELECT id, chat_id, text FROM decisions_notification ORDER BY id")
    sent = [m for m in telegram.sent_messages if m["chat_id"] == MASTER]
    counts = {}
    for m in sent:
        counts[m["text"]] = counts.get(m["text"], 0) + 1
    written = {t for _, _, t in notes}
    run.figures.update({
        "cycles": len(real), "completed": run.cycles("completed"),
        "awaiting_approval": run.cycles("awaiting_approval"),
        "abandoned": run.cycles("failed", "abandoned"),
        "failed_other": run.cycles("failed") - run.cycles("failed", "abandoned"),
        "skipped_locked": run.cycles("skipped", "locked"), "max_in_flight": run.tick.max_in_flight,
        "overlaps": sum(1 for a, b in zip(real, real[1:]) if a[4] is None or b[3] < a[4]),
        "gaps": [(b - a).total_seconds() for a, b in zip(starts, starts[1:])],
        "calls_by_cluster": {c: sum(1 for _, who in model.calls if who == c) for c in CLUSTERS},
        "post_kill_calls": sum(1 for at, who in model.calls if at > killed_at),
        "post_kill_from_victim": sum(1 for at, who in model.calls if at > killed_at and who == victim),
        "notifications": len(notes), "delivered": len(sent),
        "duplicates": sum(max(0, counts.get(text, 0) - 1) for text in written)
        + sum(n for text, n in counts.items() if text not in written),
        "lost": sum(1 for _, _, text in notes if counts.get(text, 0) == 0),
        "approval_id": approval_id, "approved_deliveries": sum(1 for m in sent if m["text"] == model.approved_note),
        "nudges": run.tick.nudges,
        "failed_sends": len(telegram.calls("sendMessage")) - len(telegram.sent_messages),
    })


def _failed_checks(f: dict, *, health_status: int, health) -> list[str]:
    scheduler = (health or {}).get("scheduler", {})
    checks = [
        (f["schedules_from_migrate"] == SCHEDULE_COUNT, f"migrate alone created the {SCHEDULE_COUNT} schedules"),
        (f["failed_sends"] >= 1 and f["lost"] == 0, "a failed first send retried and delivered"),
        (f["max_in_flight"] <= 1 and f["overlaps"] == 0, "at most one cycle in flight"),
        (f["completed"] >= 2 and f["cycles"] >= 4, "cycles on schedule"),
        (f["approval_status"] == "executed" and f["approved_deliveries"] == 1, "approval executed exactly once"),
        (f["lost"] == 0 and f["duplicates"] == 0 and f["notifications"] > 0, "notifications exactly once"),
        (f["abandoned"] == 1, "the dead cycle recorded abandoned"),
        (f["post_kill_calls"] >= 1 and f["post_kill_from_victim"] == 0, "the survivor keeps cycling"),
        (health_status == 200 and not scheduler.get("paused", True) and scheduler.get("last_cycle_at"),
         "/health: scheduler alive"),
        (f["clusters_alive_start"] == 2 and f["clusters_alive_after_kill"] == 1, "worker_alive: 2 clusters, then 1"),
    ]
    return [name for passed, name in checks if not passed]
