"""Approvals: the Master's consent to decisions and answers to questions.

Every decision goes through the one state machine in `decisions.approvals`; these views
only validate input and shape output. A decided or expired approval is a 409.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from decisions.approvals import approval_answer, approval_approve, approval_reject
from decisions.errors import ApprovalNotFound
from decisions.models import Approval, Surface
from decisions.selectors import approval_list

from ..permissions import DECIDING
from ..serializers import ApprovalAnswerSerializer, ApprovalNoteSerializer, ApprovalFilter, ApprovalSerializer
from .base import ApiListView, ApiView, error_responses, validated

CONFLICT_EXAMPLE = OpenApiExample(
    "No longer pending",
    value={"detail": "approval #7 has expired", "code": "conflict", "status": "expired"},
    status_codes=["409"],
    response_only=True,
)


def _approval(pk: int) -> Approval:
    approval = Approval.objects.select_related("cycle").filter(pk=pk).first()
    if approval is None:
        raise ApprovalNotFound(f"approval #{pk} does not exist")
    return approval


def _decided(approval: Approval) -> Response:
    approval.refresh_from_db()  # execution may already have run (it is queued on commit)
    return Response(ApprovalSerializer(approval).data)


class ApprovalListApi(ApiListView):
    @extend_schema(
        operation_id="approvals_list",
        summary="Approvals, newest first, with their effective status",
        parameters=[ApprovalFilter],
        responses={200: ApprovalSerializer(many=True), **error_responses(400, 404)},
        tags=["approvals"],
    )
    def get(self, request):
        filters = self.query(ApprovalFilter)
        approvals = approval_list(status=filters.get("status"))
        if "kind" in filters:
            approvals = approvals.filter(kind=filters["kind"])
        return self.paginated(approvals, ApprovalSerializer)


class ApprovalDetailApi(ApiView):
    @extend_schema(
        operation_id="approvals_retrieve",
        summary="One approval",
        responses={200: ApprovalSerializer, **error_responses(404)},
        tags=["approvals"],
    )
    def get(self, request, pk: int):
        return Response(ApprovalSerializer(_approval(pk)).data)


class ApprovalApproveApi(ApiView):
    permission_classes = DECIDING

    @extend_schema(
        operation_id="approvals_approve",
        summary="Approve a pending decision (its action is then executed)",
        request=ApprovalNoteSerializer,
        responses={200: ApprovalSerializer, **error_responses(400, 413, 404, 409)},
        examples=[CONFLICT_EXAMPLE],
        tags=["approvals"],
    )
    def post(self, request, pk: int):
        data = validated(ApprovalNoteSerializer, request.data)
        approval = approval_approve(
            approval_id=pk, by=request.user.get_username(), via=Surface.API, note=data["note"]
        )
        return _decided(approval)


class ApprovalRejectApi(ApiView):
    permission_classes = DECIDING

    @extend_schema(
        operation_id="approvals_reject",
        summary="Reject a pending decision or question; the note is remembered",
        request=ApprovalNoteSerializer,
        responses={200: ApprovalSerializer, **error_responses(400, 413, 404, 409)},
        examples=[CONFLICT_EXAMPLE],
        tags=["approvals"],
    )
    def post(self, request, pk: int):
        data = validated(ApprovalNoteSerializer, request.data)
        approval = approval_reject(
            approval_id=pk, by=request.user.get_username(), via=Surface.API, note=data["note"]
        )
        return _decided(approval)


class ApprovalAnswerApi(ApiView):
    permission_classes = DECIDING

    @extend_schema(
        operation_id="approvals_answer",
        summary="Answer a pending question; the answer becomes guidance",
        request=ApprovalAnswerSerializer,
        responses={200: ApprovalSerializer, **error_responses(400, 413, 404, 409)},
        examples=[CONFLICT_EXAMPLE],
        tags=["approvals"],
    )
    def post(self, request, pk: int):
        data = validated(ApprovalAnswerSerializer, request.data)
        approval = approval_answer(
            approval_id=pk, answer=data["answer"], by=request.user.get_username(), via=Surface.API
        )
        return _decided(approval)
