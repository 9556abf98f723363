"""Who may do what over the API: staff read; deciding and steering the agent need more.

Reading stays `IsAdminUser` (the default). Deciding an approval and controlling the agent
also need a model permission (declared in decisions.models, granted in the admin;
superusers have every permission), so being staff is not enough to steer the agent.
"""

from rest_framework.permissions import BasePermission, IsAdminUser

DECIDE_APPROVAL = "decisions.decide_approval"
CONTROL_AGENT = "decisions.control_agent"


class DecideApprovals(BasePermission):
    message = f"Deciding approvals needs the {DECIDE_APPROVAL} permission."

    def has_permission(self, request, view):
        return request.user.has_perm(DECIDE_APPROVAL)


class ControlAgent(BasePermission):
    message = f"Pausing, resuming and running the agent need the {CONTROL_AGENT} permission."

    def has_permission(self, request, view):
        return request.user.has_perm(CONTROL_AGENT)


# IsAdminUser first: anonymous callers still get 401 and non-staff the usual 403.
DECIDING = [IsAdminUser, DecideApprovals]
CONTROLLING = [IsAdminUser, ControlAgent]
