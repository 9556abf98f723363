"""manage.py memory search|pin|unpin|archive|restore|edit|consolidate: the Master's
command-line way to search and shape the agent's memory (memory.search, memory.shaping;
every change audited with via=cli), and to run today's consolidation now
(decisions.consolidation, once a UTC day).

With --json stdout is one JSON value, for scripts."""

import getpass
import json

from django.core.management.base import BaseCommand, CommandError

from agentsite.core.errors import ApplicationError
from agentsite.core.surfaces import Surface
from memory.models import MemoryEntry
from memory.search import SEARCH_LIMIT_MAX, memory_search
from memory.shaping import memory_archive, memory_edit, memory_pin, memory_restore, memory_unpin

from ...consolidation import consolidation_run

SHAPERS = {"pin": memory_pin, "unpin": memory_unpin, "archive": memory_archive, "restore": memory_restore}


def entry_as_dict(entry: MemoryEntry) -> dict:
    return {
        "id": entry.pk, "kind": entry.kind, "content": entry.content, "pinned": entry.pinned,
        "archived_at": entry.archived_at.isoformat() if entry.archived_at else None,
        "created_at": entry.created_at.isoformat(),
    }


class Command(BaseCommand):
    requires_system_checks = []  # print only the answer
    help = "Search the agent's memory, pin/unpin/archive/restore/edit an entry, or consolidate now."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True,
                                    metavar="{search,pin,unpin,archive,restore,edit,consolidate}")
        search = sub.add_parser("search", help="entries matching every word, best first")
        search.add_argument("words", nargs="+")
        search.add_argument("--limit", type=int, default=20, help=f"1 to {SEARCH_LIMIT_MAX}")
        search.add_argument("--archived", action="store_true", help="archived entries too")
        search.add_argument("--json", action="store_true")
        for name, service in SHAPERS.items():
            shaper = sub.add_parser(name, help=(service.__doc__ or name).strip().splitlines()[0])
            shaper.add_argument("id", type=int)
            shaper.add_argument("--json", action="store_true")
        edit = sub.add_parser("edit", help="replace an entry's content (the old text is kept in its revisions)")
        edit.add_argument("id", type=int)
        edit.add_argument("content")
        edit.add_argument("--json", action="store_true")
        consolidate = sub.add_parser("consolidate", help="fold old memory into a digest now (once a UTC day)")
        consolidate.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        command = options["subcommand"]
        try:
            if command == "search":
                return self._search(options)
            if command == "consolidate":
                return self._consolidate(options)
            by = getpass.getuser()
            if command == "edit":
                entry = memory_edit(entry_id=options["id"], content=options["content"], by=by, via=Surface.CLI)
            else:
                entry = SHAPERS[command](entry_id=options["id"], by=by, via=Surface.CLI)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(entry_as_dict(entry)))
        else:
            state = "archived" if entry.archived_at else ("pinned" if entry.pinned else "live")
            self.stdout.write(f"#{entry.pk} [{entry.kind}] {state}: {' '.join(entry.content.split())[:120]}")

    def _search(self, options) -> None:
        if not 1 <= options["limit"] <= SEARCH_LIMIT_MAX:
            raise CommandError(f"--limit must be 1 to {SEARCH_LIMIT_MAX}")
        entries = memory_search(query=" ".join(options["words"]), limit=options["limit"],
                                include_archived=options["archived"])
        if options["json"]:
            self.stdout.write(json.dumps([entry_as_dict(e) for e in entries]))
            return
        if not entries:
            self.stdout.write("Nothing matches.")
        for e in entries:
            flag = " (archived)" if e.archived_at else (" (pinned)" if e.pinned else "")
            self.stdout.write(f"#{e.pk:<6} {e.created_at:%Y-%m-%d} {e.kind}{flag}: {' '.join(e.content.split())[:120]}")

    def _consolidate(self, options) -> None:
        cycle = consolidation_run()
        if options["json"]:
            self.stdout.write(json.dumps(None if cycle is None else {
                "cycle_id": cycle.pk, "status": cycle.status, "reason": cycle.reason, "result": cycle.result}))
        elif cycle is None:
            self.stdout.write("Nothing to consolidate now (done today, too little old memory, paused, "
                              "locked, no credentials or budget short).")
        else:
            self.stdout.write(f"Cycle #{cycle.pk} {cycle.status}"
                              + (f": {cycle.result['summary']}" if cycle.result else f" ({cycle.reason})"))
