"""Liveness of the Django-Q2 cluster(s): the worker container's healthcheck.

Every running `qcluster` writes a heartbeat (its Stat) to the broker about twice a
second, and the broker forgets it three seconds after the last one. So a Stat present
and recent means a cluster that is alive right now, not merely a process that exists.

    python manage.py worker_alive                 # this host's cluster (a compose worker)
    python manage.py worker_alive --any-host --min-clusters 2

Exit 0 when at least --min-clusters clusters (of this host, unless --any-host) are up
with a heartbeat younger than --max-age seconds; 1 otherwise; 2 when the broker can't
hold cluster stats (the ORM broker keeps them in Django's cache, not shared by default)
or can't be reached.
"""

import socket

from django.conf import settings
from django.utils import timezone

from agentsite.core.console import OperatorCommand

ALIVE = ("Starting", "Idle", "Working")  # django_q.conf.Conf.STARTING/IDLE/WORKING


class Command(OperatorCommand):  # prints only its answer unless -v 2
    help = "Exit 0 when this host's Django-Q2 cluster has a recent heartbeat (worker healthcheck)."

    def add_arguments(self, parser):
        parser.add_argument("--any-host", action="store_true", help="count clusters on every host")
        parser.add_argument("--min-clusters", type=int, default=1, help="how many must be alive (default 1)")
        parser.add_argument("--max-age", type=float, default=10.0, help="oldest acceptable heartbeat, seconds")

    def handle(self, *args, **options):
        if not getattr(settings, "Q_CLUSTER", {}).get("redis"):
            self.stderr.write("worker_alive: needs the Redis broker (REDIS_URL); cluster stats are not shared otherwise")
            raise SystemExit(2)
        from django_q.brokers import get_broker
        from django_q.status import Stat

        try:
            stats = Stat.get_all(broker=get_broker())
        except Exception as exc:  # broker down: not alive, but say why
            self.stderr.write(f"worker_alive: broker unreachable ({type(exc).__name__})")
            raise SystemExit(2)
        host = socket.gethostname()
        now = timezone.now()
        alive = [
            s for s in stats
            if (options["any_host"] or s.host == host)
            and str(s.status) in ALIVE
            and (now - s.timestamp).total_seconds() <= options["max_age"]
        ]
        where = "on any host" if options["any_host"] else f"on {host}"
        self.stdout.write(f"{len(alive)} cluster(s) alive {where}: "
                          + (", ".join(f"pid {s.pid} {str(s.status).lower()}" for s in alive) or "none"))
        if len(alive) < options["min_clusters"]:
            raise SystemExit(1)
