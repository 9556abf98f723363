"""Approvals: the Master's consent to decisions and answers to questions.

Every decision goes through the one state machine in `decisions.approvals`; these views
only validate input and shape output. A decided or expired approval is a 409.
Approve, reject and answer share one shape (`ApprovalDecisionApi`): each names its input
and the service it calls.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework.response import Response

from decisions.approvals import approval_answer, approval_approve, approval_reject
from decisions.models import Approval, Surface
from decisions.selectors import approval_get, approval_list

from ..filters import ApprovalFilter
from ..permissions import DECIDING
from ..serializers import (
    ApprovalAnswerSerializer,
    ApprovalApproveSerializer,
    ApprovalNoteSerializer,
    ApprovalRejectSerializer,
    ApprovalSerializer,
)
from .base import ApiDetailView, ApiListView, ApiView, documented, validated

CONFLICT_EXAMPLE = OpenApiExample(
    "No longer pending",
    value={"detail": "approval #7 has expired", "code": "conflict", "status": "expired"},
    status_codes=["409"],
    response_only=True,
)


@extend_schema_view(get=documented(
    "approvals_list", "Approvals, newest first, with their effective status", "approvals",
    ok=ApprovalSerializer(many=True), errors=(400, 404),
))
class ApprovalListApi(ApiListView):
    browse = staticmethod(approval_list)
    filterset_class = ApprovalFilter
    output_serializer = ApprovalSerializer


@extend_schema_view(get=documented(
    "approvals_retrieve", "One approval", "approvals", ok=ApprovalSerializer, errors=(404,),
))
class ApprovalDetailApi(ApiDetailView):
    output_serializer = ApprovalSerializer

    def fetch(self, pk: int):
        return approval_get(approval_id=pk)


def decision_documented(operation_id: str, summary: str, request):
    return documented(
        operation_id, summary, "approvals", ok=ApprovalSerializer, errors=(400, 413, 404, 409),
        request=request, examples=[CONFLICT_EXAMPLE],
    )


class ApprovalDecisionApi(ApiView):
    permission_classes = DECIDING
    input_serializer = ApprovalNoteSerializer

    def decide(self, *, approval_id: int, by: str, data: dict) -> Approval:
        raise NotImplementedError

    def post(self, request, pk: int):
        data = validated(self.input_serializer, request.data)
        approval = self.decide(approval_id=pk, by=request.user.get_username(), data=data)
        approval.refresh_from_db()  # execution may already have run (it is queued on commit)
        return Response(ApprovalSerializer(approval).data)


@extend_schema_view(post=decision_documented(
    "approvals_approve", "Approve a pending decision, optionally edited (its action is then executed)",
    ApprovalApproveSerializer,
))
class ApprovalApproveApi(ApprovalDecisionApi):
    input_serializer = ApprovalApproveSerializer

    def decide(self, *, approval_id: int, by: str, data: dict) -> Approval:
        return approval_approve(
            approval_id=approval_id, by=by, via=Surface.API, note=data["note"], details=data.get("details"),
        )


@extend_schema_view(post=decision_documented(
    "approvals_reject", "Reject a pending decision or question; the feedback becomes the agent's guidance",
    ApprovalRejectSerializer,
))
class ApprovalRejectApi(ApprovalDecisionApi):
    input_serializer = ApprovalRejectSerializer

    def decide(self, *, approval_id: int, by: str, data: dict) -> Approval:
        return approval_reject(
            approval_id=approval_id, by=by, via=Surface.API, feedback=data["feedback"], note=data["note"],
        )


@extend_schema_view(post=decision_documented(
    "approvals_answer", "Answer a pending question; the answer becomes guidance", ApprovalAnswerSerializer,
))
class ApprovalAnswerApi(ApprovalDecisionApi):
    input_serializer = ApprovalAnswerSerializer

    def decide(self, *, approval_id: int, by: str, data: dict) -> Approval:
        return approval_answer(approval_id=approval_id, answer=data["answer"], by=by, via=Surface.API)
