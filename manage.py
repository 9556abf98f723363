#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings.dev")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from agentsite.settings.env import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads the settings: a bad variable stops here)
    except ConfigError as exc:
        sys.exit(str(exc))  # the one line, no traceback
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
