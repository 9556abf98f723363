from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AgentsiteConfig(AppConfig):
    name = "agentsite"
    verbose_name = "Agent site"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the start-up checks)
        from .schedules import schedules_on_migrate
        from .tasks import tasks_register

        tasks_register()

        # Sender is this app: once per migrate, after every app's migrations (and handlers).
        post_migrate.connect(schedules_on_migrate, sender=self, dispatch_uid="agentsite.schedules")
