from django.apps import AppConfig


class AgentsiteConfig(AppConfig):
    name = "agentsite"
    verbose_name = "Agent site"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the start-up checks)
