"""The agent itself: its status, pause and resume, and a cycle on demand."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from decisions.agent import agent_pause, agent_resume, cycle_request_now
from decisions.selectors import agent_status

from ..permissions import CONTROLLING
from ..serializers import AgentStatusSerializer, RunCycleSerializer
from .base import ApiView, error_responses


def _status() -> Response:
    return Response(AgentStatusSerializer(agent_status()).data)


class AgentStatusApi(ApiView):
    @extend_schema(
        operation_id="agent_retrieve",
        summary="The agent's status: paused?, schedule, last cycle, pending approvals",
        responses={200: AgentStatusSerializer, **error_responses()},
        tags=["agent"],
    )
    def get(self, request):
        return _status()


class AgentPauseApi(ApiView):
    permission_classes = CONTROLLING

    @extend_schema(
        operation_id="agent_pause",
        summary="Pause the agent: no scheduled cycles until resumed",
        request=None,
        responses={200: AgentStatusSerializer, **error_responses()},
        tags=["agent"],
    )
    def post(self, request):
        agent_pause()
        return _status()


class AgentResumeApi(ApiView):
    permission_classes = CONTROLLING

    @extend_schema(
        operation_id="agent_resume",
        summary="Resume the agent; the next tick runs a cycle straight away",
        request=None,
        responses={200: AgentStatusSerializer, **error_responses()},
        tags=["agent"],
    )
    def post(self, request):
        agent_resume()
        return _status()


class AgentRunCycleApi(ApiView):
    permission_classes = CONTROLLING

    @extend_schema(
        operation_id="agent_run_cycle",
        summary="Queue one cycle now (still subject to pause, the cycle lock and the budget)",
        request=None,
        responses={202: RunCycleSerializer, **error_responses(503)},
        tags=["agent"],
    )
    def post(self, request):
        task_id = cycle_request_now()
        return Response(RunCycleSerializer({"task_id": task_id}).data, status=status.HTTP_202_ACCEPTED)
