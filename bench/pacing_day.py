"""Benchmark: one simulated UTC day of proactive spend under the real pacing functions.

At 12k, 30k and 60k tokens per cycle (7M limit, 60 s minimum, 3600 s maximum), it runs the
cycles of a day through `decisions.pacing` (no sleeps, no database) and prints, per cost:
the share of the budget used by 24:00, when the budget ran out, the largest distance from
even spend (limit x elapsed fraction of the day), and whether issue 12's targets are met.
The seed's formula (usage bands alone, started by the every-minute tick) is printed for
comparison, and time-aware pacing once more with costs swinging ±60% and cycles started at
the next minute tick (robustness). Writes a plot of cumulative spend against the even line
(matplotlib, a bench-only dependency). Exits 1 if a time-aware row misses a target.

    .venv/bin/python bench/pacing_day.py [--plot docs/pacing_day.png] [--no-plot]
"""

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from decisions.pacing import DAY_SECONDS, DaySpend, next_run_delay  # noqa: E402

COSTS = (12_000, 30_000, 60_000)
LIMIT, MIN_SECONDS, MAX_SECONDS = 7_000_000, 60, 3600
MIN_CYCLE_TOKENS, MAX_TOKENS = 10_000, 2048  # the settings' defaults
CYCLE_SECONDS = 10  # one cycle's own duration; the pause is counted from its end
TICK_SECONDS = 60  # the seed's scheduler: a cycle starts at the first minute tick past its due time
# Issue 12's targets.
USED_AT_LEAST, NOT_EXHAUSTED_BEFORE, MAX_DEVIATION = 0.90, 22 * 3600, 0.15


@dataclass
class Day:
    cost: int
    rule: str
    starts: list[float] = field(default_factory=list)  # seconds after 00:00 UTC
    costs: list[int] = field(default_factory=list)  # each cycle's tokens
    exhausted_at: float | None = None

    def used_at(self, t: float) -> int:
        """Tokens spent by t (a cycle's cost counts from its start: the conservative side)."""
        return sum(c for s, c in zip(self.starts, self.costs) if s <= t)

    @property
    def used_ratio(self) -> float:
        return self.used_at(DAY_SECONDS) / LIMIT

    @property
    def max_deviation(self) -> float:
        """Largest |usage - even line| in percentage points / 100, checked every minute."""
        return max(abs(self.used_at(t) / LIMIT - t / DAY_SECONDS) for t in range(0, DAY_SECONDS + 1, 60))

    def at_ratio(self, ratio: float) -> float | None:
        """When usage first reached `ratio` of the limit."""
        return next((s for s in self.starts if self.used_at(s) >= ratio * LIMIT), None)

    @property
    def met(self) -> bool:
        early = self.exhausted_at is not None and self.exhausted_at < NOT_EXHAUSTED_BEFORE
        return self.used_ratio >= USED_AT_LEAST and not early and self.max_deviation <= MAX_DEVIATION


def simulate_day(cost: int, *, time_aware: bool = True, on_time: bool = True, spread: float = 0.0) -> Day:
    """Cycles from 00:00 to 24:00 UTC, costing `cost` each (or varying by up to ±spread of
    it, deterministically). The budget guard refuses a cycle when what remains is below its
    reservation bound (or PROACTIVE_MIN_CYCLE_TOKENS): that is the exhaustion time, and the
    agent then sleeps until midnight, as the cycle does."""
    day = Day(cost=cost, rule="time-aware" if time_aware else "seed")
    used, t = 0, 0.0
    while t < DAY_SECONDS:
        this = round(cost * (1 + spread * math.sin(len(day.starts) * 2.3)))
        if LIMIT - used < max(this + MAX_TOKENS, MIN_CYCLE_TOKENS):
            day.exhausted_at = t
            break
        day.starts.append(t)
        day.costs.append(this)
        used += this
        end = t + CYCLE_SECONDS
        spend = DaySpend(spent=used, limit=LIMIT, cycles=len(day.starts), elapsed=end) if time_aware else None
        due = end + next_run_delay(
            usage_ratio=used / LIMIT, min_seconds=MIN_SECONDS, max_seconds=MAX_SECONDS, day=spend)
        t = due if on_time else math.ceil(due / TICK_SECONDS) * TICK_SECONDS
    return day


def hhmm(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    minutes = int(seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def table(days: list[Day]) -> str:
    head = (f"{'rule':<22} {'tokens/cycle':>12} {'cycles':>6} {'used by 24:00':>13} {'50% at':>7} "
            f"{'exhausted':>9} {'max dev':>8}  targets")
    lines = [head, "-" * len(head)]
    for d in days:
        lines.append(
            f"{d.rule:<22} {d.cost:>12,} {len(d.starts):>6} {d.used_ratio:>12.1%} {hhmm(d.at_ratio(0.5)):>7} "
            f"{hhmm(d.exhausted_at):>9} {d.max_deviation * 100:>6.1f}pp  {'met' if d.met else 'NOT met'}")
    return "\n".join(lines)


def plot(days: list[Day], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    hours = [t / 3600 for t in range(0, DAY_SECONDS + 1, 60)]
    for ax, rule in zip(axes, ("time-aware", "seed")):
        ax.plot([0, 24], [0, 100], "k--", linewidth=1, label="even spend")
        ax.fill_between([0, 24], [-15, 85], [15, 115], color="grey", alpha=0.12, label="±15 pp")
        for d in (d for d in days if d.rule == rule):
            ax.step(hours, [100 * d.used_at(h * 3600) / LIMIT for h in hours], where="post",
                    label=f"{d.cost // 1000}k tokens/cycle")
        ax.set(title=f"{rule} pacing", xlabel="hour of the UTC day", xlim=(0, 24), ylim=(0, 105),
               xticks=range(0, 25, 3))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("% of the 7M daily budget used")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "pacing_day.png")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    new = [simulate_day(cost) for cost in COSTS]
    seed = [simulate_day(cost, time_aware=False, on_time=False) for cost in COSTS]
    rough = [simulate_day(cost, spread=0.6, on_time=False) for cost in COSTS]
    for d in rough:  # robustness: costs swinging ±60%, cycles started at the next minute tick
        d.rule = "time-aware ±60%, tick"
    print(f"Simulated UTC day: {LIMIT:,} tokens, intervals {MIN_SECONDS}-{MAX_SECONDS} s, "
          f"cycle {CYCLE_SECONDS} s; targets: >= {USED_AT_LEAST:.0%} used, not exhausted before "
          f"{hhmm(NOT_EXHAUSTED_BEFORE)}, within ±{MAX_DEVIATION:.0%} of even spend\n")
    print(table(new + seed + rough))
    if not args.no_plot:
        plot(new + seed, args.plot)
        print(f"\nplot: {args.plot}")
    return 0 if all(d.met for d in new + rough) else 1


if __name__ == "__main__":
    sys.exit(main())
