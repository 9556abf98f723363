"""Who may do what over the API: staff read; deciding and steering the agent need more.

Reading stays `IsAdminUser` (the default). Deciding an approval and controlling the agent
also need a model permission (declared in decisions.models, granted in the admin;
superusers have every permission), so being staff is not enough to steer the agent.
"""

from rest_framework.permissions import BasePermission, IsAdminUser

DECIDE_APPROVAL = "decisions.decide_approval"
CONTROL_AGENT = "decisions.control_agent"
CHANGE_POLICY = "decisions.change_actionpolicy"


class DecideApprovals(BasePermission):
    message = f"Deciding approvals needs the {DECIDE_APPROVAL} permission."

    def has_permission(self, request, view):
        return request.user.has_perm(DECIDE_APPROVAL)


class ControlAgent(BasePermission):
    message = f"Pausing, resuming and running the agent need the {CONTROL_AGENT} permission."

    def has_permission(self, request, view):
        return request.user.has_perm(CONTROL_AGENT)


class ChangePolicy(BasePermission):
    message = f"Changing the action policy needs the {CHANGE_POLICY} permission."

    def has_permission(self, request, view):
        return request.method in ("GET", "HEAD", "OPTIONS") or request.user.has_perm(CHANGE_POLICY)


# IsAdminUser first: anonymous callers still get 401 and non-staff the usual 403.
DECIDING = [IsAdminUser, DecideApprovals]
CONTROLLING = [IsAdminUser, ControlAgent]
POLICY_EDITING = [IsAdminUser, ChangePolicy]  # reading: staff; writing: the permission too
