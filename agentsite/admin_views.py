"""The agent dashboard in the admin (/admin/agent/) and its pause/resume button.

Both views are wrapped in `admin.site.admin_view` (staff only, CSRF-protected, never
cached); the button posts to a view that only calls `decisions.agent` services. Pausing
and resuming need `decisions.control_agent`: staff without it see no button, and a post
is refused with 403, changing nothing.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from decisions.agent import agent_pause, agent_resume

from .dashboard import dashboard_data

app_name = "agentdash"

CONTROL_AGENT = "decisions.control_agent"


@require_GET
def agent_dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        **dashboard_data(),
        "title": "Agent dashboard",
        "can_pause": request.user.has_perm(CONTROL_AGENT),
    }
    return TemplateResponse(request, "admin/agent_dashboard.html", context)


@require_POST
def agent_pause_resume(request: HttpRequest) -> HttpResponse:
    """POST action=pause|resume. Explicit rather than a toggle, so a repeated or stale
    submit does what its button said."""
    if not request.user.has_perm(CONTROL_AGENT):
        raise PermissionDenied("Pausing and resuming the agent need the control_agent permission.")
    action = request.POST.get("action")
    if action == "pause":
        agent_pause()
        messages.success(request, "The agent is paused: no cycle will start until you resume it.")
    elif action == "resume":
        agent_resume()
        messages.success(request, "The agent is running again; the next tick starts a cycle.")
    else:
        messages.error(request, "Unknown action: use the Pause or Resume button.")
    return redirect("agentdash:dashboard")


urlpatterns = [
    path("", admin.site.admin_view(agent_dashboard), name="dashboard"),
    path("pause-resume/", admin.site.admin_view(agent_pause_resume), name="pause_resume"),
]
