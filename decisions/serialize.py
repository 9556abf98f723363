"""Plain JSON shapes of decision-side objects, shared by the CLI and Telegram."""

from .models import Approval
from .selectors import approval_effective_status


def approval_as_dict(approval: Approval) -> dict:
    return {
        "id": approval.pk,
        "kind": approval.kind,
        "status": approval_effective_status(approval),
        "action": approval.action,
        "question": approval.question,
        "options": approval.options,
        "payload": approval.payload,
        "edited_details": approval.edited_details,
        "cycle_id": approval.cycle_id,
        "decided_by": approval.decided_by,
        "decided_via": approval.decided_via,
        "note": approval.note,
        "answer": approval.answer,
        "result": approval.result,
        "expires_at": approval.expires_at.isoformat(),
        "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
        "created_at": approval.created_at.isoformat(),
    }
