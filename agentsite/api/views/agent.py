"""The agent itself: its status, pause and resume, and a cycle on demand."""

from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from decisions.agent import agent_pause, agent_resume, cycle_request_now
from decisions.selectors import agent_status

from ..permissions import CONTROLLING
from ..serializers import AgentStatusSerializer, RunCycleSerializer
from .base import ApiView, documented


def _status() -> Response:
    return Response(AgentStatusSerializer(agent_status()).data)


class AgentStatusApi(ApiView):
    @documented(
        "agent_retrieve", "The agent's status: paused?, schedule, last cycle, pending approvals", "agent",
        ok=AgentStatusSerializer,
    )
    def get(self, request):
        return _status()


class AgentControlApi(ApiView):
    # POST: call `control()` (a decisions.agent service), answer the status it left.
    permission_classes = CONTROLLING

    @staticmethod
    def control():
        raise NotImplementedError

    def post(self, request):
        self.control()
        return _status()


@extend_schema_view(post=documented(
    "agent_pause", "Pause the agent: no scheduled cycles until resumed", "agent",
    ok=AgentStatusSerializer, request=None,
))
class AgentPauseApi(AgentControlApi):
    control = staticmethod(agent_pause)


@extend_schema_view(post=documented(
    "agent_resume", "Resume the agent; the next tick runs a cycle straight away", "agent",
    ok=AgentStatusSerializer, request=None,
))
class AgentResumeApi(AgentControlApi):
    control = staticmethod(agent_resume)


class AgentRunCycleApi(ApiView):
    permission_classes = CONTROLLING

    @documented(
        "agent_run_cycle", "Queue one cycle now (still subject to pause, the cycle lock and the budget)", "agent",
        ok=RunCycleSerializer, ok_status=202, errors=(503,), request=None,
    )
    def post(self, request):
        task_id = cycle_request_now()
        return Response(RunCycleSerializer({"task_id": task_id}).data, status=status.HTTP_202_ACCEPTED)
