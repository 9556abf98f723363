"""Importing this package registers every action handler."""

from . import ask_master, communicate, develop_skill, meditate, proactive_outreach, work_on_task  # noqa: F401
