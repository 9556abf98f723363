"""How long the decision parser takes to refuse replies built to make a naive parser crawl
(the inputs of tests/decisions/test_parsing_fuzz.py::ADVERSARIAL). Prints one row per input.

    .venv/bin/python bench/parse_adversarial.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings.test")

import django  # noqa: E402

django.setup()

from decisions.parsing import decision_parse  # noqa: E402
from tests.decisions.test_parsing_fuzz import ADVERSARIAL  # noqa: E402


def main() -> None:
    print(f"{'input':<40} {'chars':>8} {'median ms':>10} {'max ms':>8}  outcome")
    for text in ADVERSARIAL:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            result = decision_parse(text)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{text[:30]!r:<40} {len(text):>8} {statistics.median(times):>10.1f} {max(times):>8.1f}  "
              f"{'accepted' if result.ok else 'refused: ' + result.error[:40]}")


if __name__ == "__main__":
    main()
