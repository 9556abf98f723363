"""Every app's background tasks, registered under the names the apps queue them by
(agentsite.core.tasks). Loaded once, from AgentsiteConfig.ready."""

from agentsite.core.tasks import task_register
from budget.tasks import reservations_sweep_task
from decisions.tasks import (
    approval_execute_task,
    approval_expire_task,
    master_schedules_run_task,
    memory_consolidate_task,
    proactive_tick_task,
    run_cycle_now_task,
)
from telegrambot.tasks import outbox_deliver_task, update_process_task, updates_retry_task

TASKS = {
    "decisions.proactive_tick": proactive_tick_task,
    "decisions.approval_expire": approval_expire_task,
    "decisions.approval_execute": approval_execute_task,
    "decisions.run_cycle_now": run_cycle_now_task,
    "decisions.master_schedules_run": master_schedules_run_task,
    "decisions.memory_consolidate": memory_consolidate_task,
    "telegrambot.outbox_deliver": outbox_deliver_task,
    "telegrambot.update_process": update_process_task,
    "telegrambot.updates_retry": updates_retry_task,
    "budget.reservations_sweep": reservations_sweep_task,
}


def tasks_register() -> None:
    for name, func in TASKS.items():
        task_register(name, func)
