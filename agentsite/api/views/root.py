"""GET /api/: where everything is. Only links (no data), so it is open like the schema."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# Name in the answer -> URL name (list endpoints and the agent; details hang below them).
ENDPOINTS = {
    "agent": "api:agent", "approvals": "api:approval-list", "budget": "api:budget",
    "cycles": "api:cycle-list", "ledger": "api:ledger-list", "memory": "api:memory-list",
    "policies": "api:policy-list", "schedules": "api:schedule-list", "skills": "api:skill-list",
    "tasks": "api:task-list", "schema": "api:schema", "docs": "api:docs",
}


@extend_schema(exclude=True)
class ApiRootView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({name: reverse(url_name, request=request) for name, url_name in ENDPOINTS.items()})
