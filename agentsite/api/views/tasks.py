"""Tasks for the agent: list, create, read, edit while pending, cancel.

DELETE cancels (tasks are never erased, so their history stays): a pending task becomes
`cancelled`; one already cancelled is returned unchanged; a running, done or failed task
is a 409.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from actions.models import Task, TaskSource, TaskStatus
from actions.selectors import task_get
from actions.services import task_cancel, task_create

from ..serializers import TaskCreateSerializer, TaskFilter, TaskSerializer, TaskUpdateSerializer
from actions.services import task_update
from .base import ApiListView, ApiView, error_responses, validated


class TaskListApi(ApiListView):
    serializer_class = TaskCreateSerializer  # what OPTIONS describes for POST (DRF's metadata needs one)

    @extend_schema(
        operation_id="tasks_list",
        summary="Tasks, most urgent (then oldest) first",
        parameters=[TaskFilter],
        responses={200: TaskSerializer(many=True), **error_responses(400, 404)},
        tags=["tasks"],
    )
    def get(self, request):
        filters = self.query(TaskFilter)
        tasks = Task.objects.filter(**filters).order_by("priority", "created_at", "id")
        return self.paginated(tasks, TaskSerializer)

    @extend_schema(
        operation_id="tasks_create",
        summary="Add a task for the agent (source `api`)",
        request=TaskCreateSerializer,
        responses={201: TaskSerializer, **error_responses(400, 413)},
        tags=["tasks"],
    )
    def post(self, request):
        data = validated(TaskCreateSerializer, request.data)
        task = task_create(**data, source=TaskSource.API)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(ApiView):
    @extend_schema(
        operation_id="tasks_retrieve",
        summary="One task, with its result or error",
        responses={200: TaskSerializer, **error_responses(404)},
        tags=["tasks"],
    )
    def get(self, request, pk: int):
        return Response(TaskSerializer(task_get(task_id=pk)).data)

    @extend_schema(
        operation_id="tasks_partial_update",
        summary="Edit a pending task, or cancel it with {\"status\": \"cancelled\"}",
        request=TaskUpdateSerializer,
        responses={200: TaskSerializer, **error_responses(400, 413, 404, 409)},
        tags=["tasks"],
    )
    def patch(self, request, pk: int):
        data = validated(TaskUpdateSerializer, request.data)
        if data.get("status") == TaskStatus.CANCELLED:
            task = task_cancel(task_id=pk)
        elif data:
            task = task_update(task_id=pk, **data)
        else:
            task = task_get(task_id=pk)
        return Response(TaskSerializer(task).data)

    @extend_schema(
        operation_id="tasks_cancel",
        summary="Cancel a pending task (never erases it); returns the task",
        description="A pending task becomes `cancelled`; an already cancelled one is returned "
        "unchanged; a running, done or failed task is a 409.",
        request=None,
        responses={200: TaskSerializer, **error_responses(404, 409)},
        tags=["tasks"],
    )
    def delete(self, request, pk: int):
        task = task_get(task_id=pk)
        if task.status != TaskStatus.CANCELLED:
            task = task_cancel(task_id=pk)
        return Response(TaskSerializer(task).data)
