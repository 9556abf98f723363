"""Issue 12: a prompt built for caching. How big the stable prefix is, whether the
configured model caches it, and what share of a cycle's input tokens the cache serves.

    python bench/prompt_cache.py [--cycles 20]

One process, a SQLite file under /tmp, the loopback Anthropic fake (tests/fakes/
anthropic_api.py): it counts a token per 4 characters, answers `count_tokens`, and
reports a cached prefix as `cache_creation_input_tokens` on its first request and as
`cache_read_input_tokens` after, as the API does (nothing below the model's minimum is
cached). Real `decisions.services.cycle_run()` cycles, their tokens read back from the
Cycle rows:
  - empty memory: a fresh database, N cycles (each leaves its own memory behind);
  - full memory: every list section of the working memory at its item cap with items
    of realistic length (15 open tasks, 10 pending approvals, 10 recent actions, 10
    answers from the Master before every cycle, a focus and an aroma), N cycles;
  - at every cap: no cycle, the prompt with every item at its character cap (the
    upper bound of the volatile part), counted by the fake's rule.
"""

from __future__ import annotations

import argparse

from _common import DECISION_TEXT, database, django_setup, header, row, site_env

TARGET_SHARE = 0.60
TINY = [{"role": "user", "content": "."}]


def prefix_tokens(model: str, system: str) -> int:
    """The system prompt's tokens by the SDK's count_tokens: with it, less without it."""
    from budget.client import anthropic_client

    messages = anthropic_client().messages
    with_system = messages.count_tokens(model=model, system=[{"type": "text", "text": system}], messages=TINY)
    return with_system.input_tokens - messages.count_tokens(model=model, messages=TINY).input_tokens


def run_cycles(fake, count: int, before_each=None) -> list[dict]:
    from decisions.models import Cycle
    from decisions.services import cycle_run

    tokens = []
    for _ in range(count):
        if before_each:
            before_each()
        fake.enqueue(fake.metered_reply(DECISION_TEXT, output_tokens=120))
        run = cycle_run()
        tokens.append(Cycle.objects.get(pk=run.cycle.pk).tokens)
    return tokens


def share(tokens: list[dict]) -> float:
    read = sum(t["cache_read"] for t in tokens)
    inputs = sum(t["input"] + t["cache_creation"] + t["cache_read"] for t in tokens)
    return read / inputs if inputs else 0.0


def per_cycle(tokens: list[dict]) -> tuple[float, float]:
    """Mean input tokens per cycle: as counted (the ledger's total), and weighted by price."""
    raw = sum(t["input"] + t["cache_creation"] + t["cache_read"] for t in tokens) / len(tokens)
    priced = sum(t["input"] + 1.25 * t["cache_creation"] + 0.1 * t["cache_read"] for t in tokens) / len(tokens)
    return raw, priced


def fill_memory() -> None:
    """Every list section at its item cap, items of a realistic length."""
    from actions.services import task_create
    from decisions.approvals import approval_ask
    from memory.models import MemoryKind
    from memory.services import memory_record, memory_set_focus

    for i in range(15):
        task_create(title=f"Draft section {i} of the co-op newsletter", source="api",
                    description="Collect the members' notes from the shared folder, summarise them in plain "
                                "words and flag anything that needs the Master's decision.")
    for i in range(10):
        approval_ask(question=f"Should the newsletter's part {i} mention the new members by name, or keep "
                              "them anonymous until they agree?", options=("by name", "anonymous"), cycle=None)
        memory_record(kind=MemoryKind.CYCLE_SUMMARY,
                      content=f"work_on_task #{i}: drafted part {i} of the newsletter from the members' notes; "
                              "two questions left open for the Master (certainty 0.85)")
    memory_set_focus(content="Finish the co-op newsletter this week; keep each section short and warm, and "
                             "ask before naming anyone.")


def add_answers() -> None:
    from memory.services import memory_add_guidance

    for i in range(10):
        memory_add_guidance(content=f"Master answered question #{i}: keep them anonymous for now, and send me "
                                    "the draft before anything goes out to the members.")


def at_every_cap_share(fake, model: str) -> tuple[float, int]:
    """The prompt with every section at its character cap: the volatile part's upper bound."""
    from datetime import UTC, datetime

    from decisions.prompts import (ANSWERS_CAP, APPROVALS_CAP, AROMA_MAX_CHARS, FOCUS_MAX_CHARS, MEMORY_CAP,
                                   RECENT_ACTIONS_CAP, TASKS_CAP, PromptContext, prompt_build)

    def items(cap):
        return ["w" * cap[1] for _ in range(cap[0] + 1)]

    context = PromptContext(
        now=datetime(2026, 11, 30, tzinfo=UTC), recent_actions=items(RECENT_ACTIONS_CAP), memories=items(MEMORY_CAP),
        active_tasks=[{"id": i, "title": "t" * TASKS_CAP[1], "description": "d" * TASKS_CAP[1]}
                      for i in range(TASKS_CAP[0] + 1)],
        open_approvals=[{"id": i, "question": "q" * APPROVALS_CAP[1]} for i in range(APPROVALS_CAP[0] + 1)],
        answers=items(ANSWERS_CAP), focus="f" * FOCUS_MAX_CHARS, aroma="a" * AROMA_MAX_CHARS,
        budget={"used": 10**6, "limit": 7 * 10**6, "usage_ratio": 1 / 7, "remaining": 6 * 10**6, "level": "ok"},
    )
    prompt = prompt_build(context=context)
    request = {"model": model, "system": [{"type": "text", "text": prompt.system, "cache_control": {"type": "ephemeral"}}],
               "messages": [{"role": "user", "content": prompt.user}]}
    usage = fake.usage_for(request)  # the first sight writes the prefix, the second reads it
    usage = fake.usage_for(request)
    total = usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    return usage["cache_read_input_tokens"] / total, len(prompt.user)


def families_cleared(tokens: int) -> str:
    from budget.usage import CACHE_MIN_TOKENS_BY_MODEL

    below = sorted({m for m, minimum in CACHE_MIN_TOKENS_BY_MODEL.items() if tokens < minimum})
    cleared = sorted({minimum for minimum in CACHE_MIN_TOKENS_BY_MODEL.values() if tokens >= minimum})
    return f"clears {', '.join(f'{m:,}' for m in cleared)}" + (f"; below: {', '.join(below)}" if below else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    args = parser.parse_args()

    from tests.fakes.anthropic_api import FakeAnthropic

    fake = FakeAnthropic().start()
    with database("disk") as db_url:
        django_setup(site_env(db_url, anthropic_url=fake.url, PROACTIVE_DAILY_TOKEN_LIMIT="100000000"))
        from django.conf import settings

        from budget.usage import cache_min_tokens
        from decisions import prompts

        print(f"decisions.prompts from {prompts.__file__}")
        model = settings.AGENT_MODEL
        minimum = cache_min_tokens(model=model)
        tokens = prefix_tokens(model, prompts.SYSTEM_PROMPT)
        empty = run_cycles(fake, args.cycles)
        fake.reset()  # a fresh cache for the second run, as after five idle minutes
        fill_memory()
        full = run_cycles(fake, args.cycles, before_each=add_answers)
        capped, capped_chars = at_every_cap_share(fake, model)

    header("Prompt caching (issue 12)")
    row("stable prefix (system prompt), characters", f"{len(prompts.SYSTEM_PROMPT):,}", "", "", None)
    row("stable prefix, tokens (count_tokens, fake: 1 per 4 chars)", f"{tokens:,}",
        f"{model}: minimum {minimum:,}", "≥ the model's minimum", tokens >= minimum)
    row("minimum cacheable length of every family", families_cleared(tokens), "", "", None)
    row("first cycle: tokens written to the cache", f"{empty[0]['cache_creation']:,}",
        "", "the prefix", empty[0]["cache_creation"] > 0)
    for label, runs in (("empty memory", empty), ("full memory", full)):
        later = share(runs[1:])
        user_tokens = runs[-1]["input"]
        row(f"input tokens read from cache, cycles 2..{len(runs)}, {label}",
            f"{later:.1%} (volatile part ≈ {user_tokens:,} tokens)", f"all {len(runs)} cycles: {share(runs):.1%}",
            f"≥ {TARGET_SHARE:.0%}", later >= TARGET_SHARE)
    for label, runs in (("empty memory", empty), ("full memory", full)):
        raw, priced = per_cycle(runs[1:])
        row(f"input tokens per cycle after the first, {label}: raw (what the budget counts) / priced",
            f"{raw:,.0f} / {priced:,.0f}", "priced: cache read x0.1, cache write x1.25 (5-minute TTL)", "", None)
    row("input tokens read from cache, every section at its character cap (upper bound)",
        f"{capped:.1%} (volatile part {capped_chars:,} chars)", "", "none: the worst case, not a typical cycle", None)
    fake.stop()


if __name__ == "__main__":
    main()
