"""The Master's per-action policy: every action's effective policy, and changing one.

Reading needs staff; changing needs `decisions.change_actionpolicy` too. PUT sets the whole
policy (a missing `min_certainty` or `approval_timeout_seconds` goes back to its default);
PATCH changes only the fields given. Both go through `decisions.policy.action_policy_set`.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework.response import Response

from decisions.models import Surface
from decisions.policy import action_policy_get, action_policy_read, action_policy_set

from ..permissions import POLICY_EDITING
from ..serializers import ActionPolicyInputSerializer, ActionPolicySerializer
from .base import ApiView, documented

PUT_EXAMPLE = OpenApiExample(
    "Act alone on tasks from certainty 0.6; their approvals wait 30 minutes",
    value={"mode": "act_at", "min_certainty": 0.6, "approval_timeout_seconds": 1800},
    request_only=True,
)


@extend_schema_view(get=documented(
    "policies_list", "Every action's effective policy (defaults included)", "policies",
    ok=ActionPolicySerializer(many=True),
))
class PolicyListApi(ApiView):
    def get(self, request):
        return Response(ActionPolicySerializer(action_policy_read(), many=True).data)


def _change_documented(operation_id: str, summary: str):
    return documented(
        operation_id, summary, "policies", ok=ActionPolicySerializer, errors=(400, 404, 413),
        request=ActionPolicyInputSerializer, examples=[PUT_EXAMPLE],
    )


@extend_schema_view(
    get=documented("policies_retrieve", "One action's effective policy", "policies",
                   ok=ActionPolicySerializer, errors=(404,)),
    put=_change_documented("policies_update", "Set an action's policy (omitted values: their defaults)"),
    patch=_change_documented("policies_partial_update", "Change some of an action's policy"),
)
class PolicyDetailApi(ApiView):
    permission_classes = POLICY_EDITING

    def get(self, request, action: str):
        return Response(ActionPolicySerializer(action_policy_get(action=action)).data)

    def put(self, request, action: str):
        return self._set(request, action, partial=False)

    def patch(self, request, action: str):
        return self._set(request, action, partial=True)

    def _set(self, request, action: str, *, partial: bool) -> Response:
        current = action_policy_get(action=action)  # 404 for an unknown action, before the body
        serializer = ActionPolicyInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if partial:
            data = {"mode": current.mode, "min_certainty": current.min_certainty,
                    "approval_timeout_seconds": current.approval_timeout_seconds, **data}
        policy = action_policy_set(
            action=action, mode=data["mode"], min_certainty=data.get("min_certainty"),
            approval_timeout_seconds=data.get("approval_timeout_seconds"),
            by=request.user.get_username(), via=Surface.API,
        )
        return Response(ActionPolicySerializer(policy).data)
