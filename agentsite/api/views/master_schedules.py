"""The Master's own schedules: list, create, read, change (e.g. enable/disable), delete.

Reading needs staff; creating, changing and deleting steer the agent, so they also need
`decisions.control_agent` (as pause/resume do). A bad time is a 400 naming what is accepted.
"""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from decisions.master_schedules import (
    master_schedule_create,
    master_schedule_delete,
    master_schedule_get,
    master_schedule_list,
    master_schedule_update,
)
from decisions.models import MasterSchedule, ScheduleKind, Surface

from ..filters import StrictFilterSet
from ..permissions import CONTROLLING
from ..schedule_serializers import (
    MasterScheduleCreateSerializer,
    MasterScheduleSerializer,
    MasterScheduleUpdateSerializer,
)
from .base import ApiDetailView, ApiListCreateView, documented, validated


class MasterScheduleFilter(StrictFilterSet):
    kind = filters.ChoiceFilter(choices=ScheduleKind.choices)
    enabled = filters.BooleanFilter()

    class Meta(StrictFilterSet.Meta):
        model = MasterSchedule
        fields = ["kind", "enabled"]


class _WritesControl:
    # GET for staff; any other method also needs decisions.control_agent.
    def get_permissions(self):
        classes = [IsAdminUser] if self.request.method in ("GET", "HEAD", "OPTIONS") else CONTROLLING
        return [permission() for permission in classes]


@extend_schema_view(
    get=documented(
        "schedules_list", "The Master's schedules, oldest first", "schedules",
        ok=MasterScheduleSerializer(many=True), errors=(400, 404),
    ),
    post=documented(
        "schedules_create", "Add a schedule: each run queues a task or sends a digest", "schedules",
        ok=MasterScheduleSerializer, ok_status=201, errors=(400, 413), request=MasterScheduleCreateSerializer,
    ),
)
class MasterScheduleListApi(_WritesControl, ApiListCreateView):
    browse = staticmethod(master_schedule_list)
    filterset_class = MasterScheduleFilter
    output_serializer = MasterScheduleSerializer
    serializer_class = MasterScheduleCreateSerializer

    def create(self, data: dict, request) -> MasterSchedule:
        return master_schedule_create(**data, by=request.user.get_username(), via=Surface.API)


@extend_schema_view(get=documented(
    "schedules_retrieve", "One schedule, with its next run", "schedules", ok=MasterScheduleSerializer, errors=(404,),
))
class MasterScheduleDetailApi(_WritesControl, ApiDetailView):
    output_serializer = MasterScheduleSerializer

    def fetch(self, pk: int):
        return master_schedule_get(schedule_id=pk)

    @documented(
        "schedules_partial_update", "Change a schedule's time, text, kind, or enable/disable it", "schedules",
        ok=MasterScheduleSerializer, errors=(400, 404), request=MasterScheduleUpdateSerializer,
    )
    def patch(self, request, pk: int):
        data = validated(MasterScheduleUpdateSerializer, request.data)
        schedule = master_schedule_update(schedule_id=pk, **data) if data else master_schedule_get(schedule_id=pk)
        return Response(MasterScheduleSerializer(schedule).data)

    @documented("schedules_destroy", "Delete a schedule", "schedules", ok=None, ok_status=204, errors=(404,),
                request=None)
    def delete(self, request, pk: int):
        master_schedule_delete(schedule_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
