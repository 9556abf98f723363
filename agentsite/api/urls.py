"""/api/: the staff-only REST API, its OpenAPI schema and Swagger UI.

The schema and the docs page are public (no data in them, anonymous requests throttled),
so Swagger UI and schema tools load without a session; every data endpoint needs a
staff user (token or session).
"""

from django.http import Http404, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from . import schema  # noqa: F401  (registers the OpenAPI extensions)
from .exceptions import as_not_found, error_body
from .views import agent, approvals, budget, cycles, master_schedules, memory, policies, root, skills, tasks

app_name = "api"


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any other /api/…/ path (e.g. a non-numeric id): a JSON 404 like the API's own.

    Only paths ending in a slash match, so APPEND_SLASH still redirects `/api/tasks`."""
    error = as_not_found(Http404())
    return JsonResponse(error_body(error), status=error.http_status)


urlpatterns = [
    path("", root.ApiRootView.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[AllowAny]),
        name="docs",
    ),
    path("budget/", budget.BudgetApi.as_view(), name="budget"),
    path("ledger/", budget.LedgerListApi.as_view(), name="ledger-list"),
    path("cycles/", cycles.CycleListApi.as_view(), name="cycle-list"),
    path("cycles/<int:pk>/", cycles.CycleDetailApi.as_view(), name="cycle-detail"),
    path("approvals/", approvals.ApprovalListApi.as_view(), name="approval-list"),
    path("approvals/<int:pk>/", approvals.ApprovalDetailApi.as_view(), name="approval-detail"),
    path("approvals/<int:pk>/approve/", approvals.ApprovalApproveApi.as_view(), name="approval-approve"),
    path("approvals/<int:pk>/reject/", approvals.ApprovalRejectApi.as_view(), name="approval-reject"),
    path("approvals/<int:pk>/answer/", approvals.ApprovalAnswerApi.as_view(), name="approval-answer"),
    path("tasks/", tasks.TaskListApi.as_view(), name="task-list"),
    path("tasks/<int:pk>/", tasks.TaskDetailApi.as_view(), name="task-detail"),
    path("skills/", skills.SkillListApi.as_view(), name="skill-list"),
    path("skills/<int:pk>/", skills.SkillDetailApi.as_view(), name="skill-detail"),
    path("memory/", memory.MemoryListApi.as_view(), name="memory-list"),
    path("schedules/", master_schedules.MasterScheduleListApi.as_view(), name="schedule-list"),
    path("schedules/<int:pk>/", master_schedules.MasterScheduleDetailApi.as_view(), name="schedule-detail"),
    path("policies/", policies.PolicyListApi.as_view(), name="policy-list"),
    path("policies/<str:action>/", policies.PolicyDetailApi.as_view(), name="policy-detail"),
    path("memory/<int:pk>/", memory.MemoryDetailApi.as_view(), name="memory-detail"),
    path("agent/", agent.AgentStatusApi.as_view(), name="agent"),
    path("agent/pause/", agent.AgentPauseApi.as_view(), name="agent-pause"),
    path("agent/resume/", agent.AgentResumeApi.as_view(), name="agent-resume"),
    path("agent/run-cycle/", agent.AgentRunCycleApi.as_view(), name="agent-run-cycle"),
    re_path(r"^(?:[\s\S]*/)?$", api_not_found),  # [\s\S]: ids with newlines too
]
