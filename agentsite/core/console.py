"""The operator's commands (`manage.py approvals`, `agent`, `tasks`, `run_cycle`, ...):
they print only their answer. No system checks at start-up (the W001/W002 configuration
warnings show in `runserver` and `check`), and the site's own log lines below WARNING
(a cycle's "Cycle skipped ...", an outbox round) stay out of the way; `-v 2` shows both,
`-v 3` the debug lines too."""

import logging

from django.core.management.base import BaseCommand


class OperatorCommand(BaseCommand):
    """A BaseCommand that prints only its answer unless asked with -v 2 or more."""

    requires_system_checks = []

    def execute(self, *args, **options):
        verbosity = options.get("verbosity", 1)
        if verbosity >= 2:  # what a plain run leaves out
            self.check(display_num_errors=False)
        previous = logging.root.manager.disable
        logging.disable(logging.INFO if verbosity <= 1 else logging.NOTSET if verbosity >= 3 else logging.DEBUG)
        try:
            return super().execute(*args, **options)
        finally:
            logging.disable(previous)
