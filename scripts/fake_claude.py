"""A stand-in Claude for trying the agent without credentials or spending tokens.

    .venv/bin/python scripts/fake_claude.py --port 8099 &
    ANTHROPIC_API_KEY=fake ANTHROPIC_BASE_URL=http://127.0.0.1:8099 make run

It answers every Messages API call with a short meditation decision (the loopback fake
the tests use), so cycles run on schedule and show up in the log and the admin.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.anthropic_api import FakeAnthropic, message_reply  # noqa: E402

DECISION = {
    "action": "meditate",
    "reasoning": "Nothing urgent is waiting; a short reflection keeps me clear.",
    "certainty": 0.9,
    "significance": 0.2,
    "type": "internal",
    "details": {"duration": 60, "reflection_topic": "patience"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    fake = FakeAnthropic()
    fake.default = lambda recorded: message_reply(json.dumps(DECISION), input_tokens=1500, output_tokens=80)
    fake.start(port=args.port)
    print(f"fake Claude listening on {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
