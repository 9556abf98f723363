"""Issue 12: one proactive cycle's overhead over the bare SDK call, against a LangGraph
reference, and the SQL statements and durable commits of one cycle.

    python bench/cycle_overhead.py [--cycles 200] [-v] [--profile]

For each of a SQLite file on disk and on tmpfs (/dev/shm), in one process per database:
  - bare:      the anthropic SDK's `messages.create` with the very request a cycle sent,
               against the loopback fake (tests/fakes/anthropic_api.py, instant answers);
  - agentsite: `decisions.services.cycle_run()` (the fake answers a sure meditation);
  - LangGraph: a 3-node graph decide -> act -> remember compiled with its SQLite
               checkpointer (langgraph.checkpoint.sqlite.SqliteSaver, a file next to
               agentsite's), `decide` making the same SDK call on the same fake.
The three run interleaved (bare, agentsite, LangGraph, repeat) so drift hits all alike;
overhead = median(run) - median(bare). `-v` prints one cycle's statements, `--profile`
the project functions a cycle spends its time in (cProfile, cumulative).
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import sqlite3
from pathlib import Path
from typing import Annotated, TypedDict

from _common import (
    SqlCount,
    child_report,
    database,
    django_setup,
    fsync_ms,
    header,
    keep_no_requests,
    median,
    profile_top,
    row,
    run_child,
    site_env,
    start_fake_anthropic,
    timed_ms,
)

TARGET_RATIO = 1.0
TARGET_STATEMENTS = 20
TARGET_COMMITS = 3
_FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.S)


# --- the reference: LangGraph, three nodes, SQLite checkpointer ----------------------------------


class GraphState(TypedDict, total=False):
    request: dict
    reply: str
    decision: dict
    result: dict
    memories: Annotated[list[str], operator.add]


def langgraph_agent(client, folder: Path):
    """decide (the SDK call) -> act (parse the JSON decision, run it) -> remember (append a
    summary to the checkpointed memory); every step checkpointed by SqliteSaver."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    def decide(state: GraphState) -> dict:
        message = client.messages.create(**state["request"])
        return {"reply": message.content[0].text}

    def act(state: GraphState) -> dict:
        match = _FENCED.search(state["reply"])
        decision = json.loads(match.group(1) if match else state["reply"])
        return {"decision": decision, "result": {"status": "ok", "action": decision["action"]}}

    def remember(state: GraphState) -> dict:
        d = state["decision"]
        return {"memories": [f"{d['action']} (certainty {d['certainty']}): {state['result']['status']}"]}

    graph = StateGraph(GraphState)
    graph.add_node("decide", decide)
    graph.add_node("act", act)
    graph.add_node("remember", remember)
    graph.add_edge(START, "decide")
    graph.add_edge("decide", "act")
    graph.add_edge("act", "remember")
    graph.add_edge("remember", END)
    conn = sqlite3.connect(str(folder / "langgraph.sqlite3"), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    compiled = graph.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "agent"}}
    return lambda request: compiled.invoke({"request": request}, config)


# --- one database, in its own process -----------------------------------------------------------------


def child(where: str, args) -> None:
    fake = start_fake_anthropic()
    keep_no_requests(fake)
    with database(where) as db_url:
        django_setup(site_env(db_url, anthropic_url=fake.url))
        result = measure(fake, Path(db_url.removeprefix("sqlite:///")).parent, args)
    fake.stop()
    child_report({"where": where, **result})


def measure(fake, folder: Path, args) -> dict:
    import anthropic

    from decisions.models import CycleStatus
    from decisions.services import cycle_run

    def cycle() -> None:
        status = cycle_run(trigger="manual").cycle.status
        if status != CycleStatus.COMPLETED:
            raise SystemExit(f"the cycle ended {status}, not completed: the bench measures complete cycles")

    fsync = fsync_ms(str(folder))
    for _ in range(5):  # warm: client built, caches filled, a little history
        cycle()
    body = fake.requests[-1].json  # the very request a cycle sends
    sdk = anthropic.Anthropic(api_key="bench-anthropic-key", base_url=fake.url, max_retries=0)

    def bare() -> None:
        sdk.messages.create(**body)

    graph = langgraph_agent(sdk, folder)
    for _ in range(5):
        bare(), graph(body)

    samples = {"bare": [], "agentsite": [], "langgraph": []}
    for _ in range(args.cycles):
        samples["bare"].append(timed_ms(bare))
        samples["agentsite"].append(timed_ms(cycle))
        samples["langgraph"].append(timed_ms(lambda: graph(body)))
    medians = {name: median(values) for name, values in samples.items()}

    with SqlCount() as count:
        cycle()
    if args.verbose:
        print(f"\n--- the statements of one cycle ({count.total}; {count.commits} durable commits) ---")
        for n, sql in enumerate(count.statements, 1):
            print(f"{n:3d}. {sql[:400]}")
    if args.profile:
        print(f"\n--- where a cycle's time goes (cProfile over 30 cycles; per cycle) ---")
        print(profile_top(cycle, repeat=30, top=25))
    return {
        "medians": medians,
        "fsync": fsync,
        "overhead": medians["agentsite"] - medians["bare"],
        "reference": medians["langgraph"] - medians["bare"],
        "statements": count.total,
        "kinds": count.kinds,
        "kinds_text": count.kinds_text(),
        "commits": count.commits,
    }


# --- the table -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200, help="measured repetitions per database")
    parser.add_argument("-v", "--verbose", action="store_true", help="print one cycle's SQL statements")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of a cycle")
    parser.add_argument("--where", default="disk,tmpfs", help="comma-separated: disk, tmpfs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return

    extra = [f"--cycles={args.cycles}"] + (["-v"] if args.verbose else []) + (["--profile"] if args.profile else [])
    results = [run_child("cycle_overhead.py", where, *extra) for where in args.where.split(",")]
    header(f"cycle overhead (median of {args.cycles} interleaved runs each)")
    for r in results:
        m = r["medians"]
        ratio = r["overhead"] / r["reference"] if r["reference"] > 0 else float("inf")
        place = "SQLite on disk" if r["where"] == "disk" else "SQLite on tmpfs"
        row(f"bare SDK call (median) and one fsync on this storage, {place}",
            f"{m['bare']:.2f} ms; fsync {r['fsync']:.2f} ms", "same call", "—", None)
        row(f"one proactive cycle's overhead over the bare SDK call, {place}",
            f"{r['overhead']:.2f} ms (cycle {m['agentsite']:.2f} ms)",
            f"LangGraph 3-node + SqliteSaver: {r['reference']:.2f} ms (run {m['langgraph']:.2f} ms)",
            f"ratio <= {TARGET_RATIO:.1f}", None)
        row(f"ratio agentsite / LangGraph overhead, {place}", f"{ratio:.2f}", "1.00",
            f"<= {TARGET_RATIO:.1f}", ratio <= TARGET_RATIO)
    for r in results:
        place = "SQLite on disk" if r["where"] == "disk" else "SQLite on tmpfs"
        row(f"SQL statements per cycle, {place}", f"{r['statements']} ({r['kinds_text']})", "—",
            f"<= {TARGET_STATEMENTS}", r["statements"] <= TARGET_STATEMENTS)
        row(f"durable commits per cycle, {place}", str(r["commits"]), "—",
            f"<= {TARGET_COMMITS}", r["commits"] <= TARGET_COMMITS)


if __name__ == "__main__":
    main()
