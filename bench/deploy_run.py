"""The deployment shape of docker-compose.yml, run without Docker, and what it proves.

    .venv/bin/python bench/deploy_run.py        # or: make deploy-check

What compose starts, started here on this machine's PostgreSQL and Redis: `migrate`,
gunicorn (agentsite.wsgi, 2 workers) and TWO `qcluster` processes,
with loopback fakes of the Anthropic and Telegram APIs in this process. Then it shows:

- cycles run on schedule (driven by the clusters' own Django-Q2 schedulers), never two in
  flight at once;
- an approval decided over the REST API is executed exactly once;
- every notification is delivered exactly once across both clusters;
- after one cluster is SIGKILLed mid-cycle (the fake holds its model call), the other
  keeps running cycles and the dead cycle is recorded failed/`abandoned`;
- /health reports the scheduler alive, and `manage.py worker_alive` sees the clusters.

Two shortcuts keep it within ~5 minutes, both plain DB updates, never a cycle run by
hand: when the agent is due, the tick schedule's `next_run` is pulled to now (Django-Q2
schedules tick at most once a minute); after the kill, the dead cycle's lock expiry
(its TTL is at least Django-Q2's task timeout, 300 s) is pulled to now. Both are printed.

A fresh database (unique name, dropped at the end) and Redis DB 5 (flushed at start and
end); every child runs in its own process group and is killed in `finally`. Quiet but
for the figures; on failure, the tails of the children's logs. Exit 1 when a check fails.

Environment: DEPLOY_PG_URL (admin connection, default postgres://postgres@127.0.0.1:5432/postgres),
DEPLOY_REDIS_URL (default redis://127.0.0.1:6379/5). DEPLOY_DEBUG=1: progress on stderr.

This is the entry point; the run itself is the package bench/deploy/ (see its __init__).
"""

import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # tests.fakes, tests.factories
if str(HERE) not in sys.path:
    sys.path.insert(1, str(HERE))  # the package bench/deploy/ (bench/ itself is no package)

from deploy.run import main  # noqa: E402

if __name__ == "__main__":
    def _interrupted(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupted)
    sys.exit(main())
