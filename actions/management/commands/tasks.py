"""manage.py tasks add|list: the Master's command-line way to give and review work.

With --json the last line of stdout is one JSON value, for scripts."""

import json

from django.core.management.base import CommandError

from agentsite.core.console import OperatorCommand
from agentsite.core.errors import ApplicationError

from ...models import PRIORITY_DEFAULT, Task, TaskSource, TaskStatus
from ...selectors import task_list
from ...services import task_create


def task_as_dict(task: Task) -> dict:
    return {
        "id": task.pk,
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "status": task.status,
        "source": task.source,
        "result": task.result,
        "created_at": task.created_at.isoformat(),
    }


class Command(OperatorCommand):  # prints only its answer unless -v 2
    help = "Add a task for the agent, or list tasks."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{add,list}")
        add = sub.add_parser("add", help="add a pending task")
        add.add_argument("title")
        add.add_argument("--description", default="")
        add.add_argument("--priority", type=int, default=PRIORITY_DEFAULT, help="1 (most urgent) to 5")
        add.add_argument("--json", action="store_true", help="print the task as JSON")
        listing = sub.add_parser("list", help="list tasks, most urgent first")
        listing.add_argument("--status", choices=TaskStatus.values)
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--json", action="store_true", help="print the tasks as a JSON list")

    def handle(self, *args, **options):
        if options["subcommand"] == "add":
            self._add(options)
        else:
            self._list(options)

    def _add(self, options) -> None:
        try:
            task = task_create(
                title=options["title"],
                description=options["description"],
                priority=options["priority"],
                source=TaskSource.CLI,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(task_as_dict(task)))
        else:
            self.stdout.write(f"Added task #{task.pk}: {task.title} (priority {task.priority})")

    def _list(self, options) -> None:
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        tasks = task_list(status=options["status"], limit=options["limit"])
        if options["json"]:
            self.stdout.write(json.dumps([task_as_dict(task) for task in tasks]))
            return
        if not tasks:
            self.stdout.write("No tasks.")
        for task in tasks:
            self.stdout.write(f"#{task.pk:<5} p{task.priority}  {task.status:<9}  {task.title}")
