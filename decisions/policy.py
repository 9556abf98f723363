"""The Master's per-action policy: set it (`action_policy_set`), read it (`action_policy_read`),
and the cycle's cached copy (`policy_for_version`).

Every change writes a new `AgentState.policy_version` in the same transaction. The cycle's
one read (`selectors.cycle_view_read`) carries that version; the process re-reads the
policy rows only when the version differs from the one it cached, so an unchanged policy
costs a cycle no query, and the system prompt built from it stays byte-identical.
"""

import math
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from actions.schemas import ACTIONS
from agentsite.core.errors import ApplicationError, NotFound

from .models import ActionPolicy, AgentState, Surface
from .rules import (
    APPROVAL_TIMEOUT_MAX_SECONDS, DEFAULT_MIN_CERTAINTY, DEFAULT_POLICY, DEFAULT_RULE, FLOORS, ActionRule, Policy,
    PolicyMode,
)


class PolicyInvalid(ApplicationError):
    kind = "invalid"


class UnknownAction(NotFound):
    pass


@dataclass(frozen=True)
class EffectivePolicy:
    """One action's policy as it applies now (a default when no row exists)."""

    action: str
    mode: str
    min_certainty: float
    approval_timeout_seconds: int | None
    updated_at: datetime | None = None
    updated_by: str = ""

    @property
    def rule(self) -> ActionRule:
        return ActionRule(mode=self.mode, min_certainty=self.min_certainty,
                          approval_timeout_seconds=self.approval_timeout_seconds)

    @property
    def is_default(self) -> bool:
        return self.rule.is_default


def _effective(action: str, row: ActionPolicy | None) -> EffectivePolicy:
    if row is None:
        return EffectivePolicy(action=action, mode=DEFAULT_RULE.mode, min_certainty=DEFAULT_RULE.min_certainty,
                               approval_timeout_seconds=None)
    return EffectivePolicy(action=action, mode=row.mode, min_certainty=row.min_certainty,
                           approval_timeout_seconds=row.approval_timeout_seconds,
                           updated_at=row.updated_at, updated_by=row.updated_by)


def action_policy_read() -> list[EffectivePolicy]:
    """Every action's effective policy, in the registry's order (one query)."""
    rows = {row.action: row for row in ActionPolicy.objects.filter(action__in=ACTIONS)}
    return [_effective(action, rows.get(action)) for action in ACTIONS]


def action_policy_get(*, action: str) -> EffectivePolicy:
    _check_action(action)
    return _effective(action, ActionPolicy.objects.filter(action=action).first())


def action_policy_line(policy: EffectivePolicy) -> str:
    """One action's policy in a line, for the command line and Telegram's /policy."""
    if policy.mode == PolicyMode.ACT_AT:
        how = f"act at certainty >= {policy.min_certainty:g}"
    else:
        how = "always ask" if policy.mode == PolicyMode.ASK_ALWAYS else "disabled"
    wait = policy.approval_timeout_seconds or settings.APPROVAL_TIMEOUT_SECONDS
    floor = f"; floor: {FLOORS[policy.action]}" if policy.action in FLOORS else ""
    return f"{policy.action}: {how}; approvals wait {wait:,} s{floor}"


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise UnknownAction(f"unknown action {action!r}; the actions are: {', '.join(ACTIONS)}")


def policy_values_check(*, mode: str, min_certainty, approval_timeout_seconds) -> float:
    """The values' rules (PolicyInvalid says which is wrong); the certainty, as a float."""
    if mode not in PolicyMode.values:
        raise PolicyInvalid(f"unknown mode {mode!r}; the modes are: {', '.join(PolicyMode.values)}")
    if min_certainty is None:
        min_certainty = DEFAULT_MIN_CERTAINTY
    if isinstance(min_certainty, bool) or not isinstance(min_certainty, (int, float)) \
            or not math.isfinite(min_certainty) or not 0 <= min_certainty <= 1:
        raise PolicyInvalid(f"min_certainty must be a number from 0 to 1, not {min_certainty!r}")
    if approval_timeout_seconds is not None and (
        isinstance(approval_timeout_seconds, bool) or not isinstance(approval_timeout_seconds, int)
        or not 0 < approval_timeout_seconds <= APPROVAL_TIMEOUT_MAX_SECONDS
    ):
        raise PolicyInvalid(
            f"approval_timeout_seconds must be a whole number of seconds from 1 to {APPROVAL_TIMEOUT_MAX_SECONDS}"
            f" (or empty for the default), not {approval_timeout_seconds!r}"
        )
    return float(min_certainty)


@transaction.atomic
def action_policy_set(
    *, action: str, mode: str, min_certainty: float | None = None, approval_timeout_seconds: int | None = None,
    by: str, via: str = Surface.SYSTEM,
) -> EffectivePolicy:
    """Set one action's policy (validated; a clear error otherwise) and a new policy
    version, in one transaction. `min_certainty` None: the default 0.8."""
    _check_action(action)
    certainty = policy_values_check(
        mode=mode, min_certainty=min_certainty, approval_timeout_seconds=approval_timeout_seconds
    )
    row, _ = ActionPolicy.objects.select_for_update().get_or_create(action=action)
    row.mode, row.min_certainty, row.approval_timeout_seconds = mode, certainty, approval_timeout_seconds
    row.updated_by = f"{by} ({via})"[:150]
    row.save()
    policy_version_bump()
    return _effective(action, row)


def policy_version_bump() -> uuid.UUID:
    version = uuid.uuid4()
    if not AgentState.objects.filter(pk=AgentState.SINGLETON_ID).update(policy_version=version):
        AgentState.objects.get_or_create(pk=AgentState.SINGLETON_ID, defaults={"policy_version": version})
        AgentState.objects.filter(pk=AgentState.SINGLETON_ID).update(policy_version=version)
    return version


# The process's copy: (version, policy). Read again only when the version changes.
_cached: tuple[uuid.UUID | None, Policy] = (None, DEFAULT_POLICY)
_cache_lock = threading.Lock()


def policy_for_version(version: uuid.UUID | None) -> Policy:
    """The policy in force at `version` (AgentState.policy_version): no query while the
    version is the cached one, and none at all before a policy was ever set."""
    global _cached
    if version is None:
        return DEFAULT_POLICY
    cached_version, policy = _cached
    if cached_version == version:
        return policy
    policy = _policy_load()
    with _cache_lock:
        _cached = (version, policy)
    return policy


def policy_current() -> Policy:
    """The policy now, for callers without the cycle's view (one small read of the version)."""
    version = AgentState.objects.filter(pk=AgentState.SINGLETON_ID).values_list("policy_version", flat=True).first()
    return policy_for_version(version)


def _policy_load() -> Policy:
    return Policy(rules=tuple((p.action, p.rule) for p in action_policy_read() if not p.is_default))
