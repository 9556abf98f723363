"""Tasks for the agent: list, create, read, edit while pending, cancel.

DELETE cancels (tasks are never erased, so their history stays): a pending task becomes
`cancelled`; one already cancelled is returned unchanged; a running, done or failed task
is a 409.
"""

from drf_spectacular.utils import extend_schema_view
from rest_framework.response import Response

from actions.models import Task, TaskSource, TaskStatus
from actions.selectors import task_browse, task_get
from actions.services import task_cancel, task_create, task_update

from ..filters import TaskFilter
from ..serializers import TaskCreateSerializer, TaskSerializer, TaskUpdateSerializer
from .base import ApiDetailView, ApiListCreateView, documented, validated


@extend_schema_view(
    get=documented(
        "tasks_list", "Tasks, most urgent (then oldest) first", "tasks",
        ok=TaskSerializer(many=True), errors=(400, 404),
    ),
    post=documented(
        "tasks_create", "Add a task for the agent (source `api`)", "tasks",
        ok=TaskSerializer, ok_status=201, errors=(400, 413), request=TaskCreateSerializer,
    ),
)
class TaskListApi(ApiListCreateView):
    browse = staticmethod(task_browse)
    filterset_class = TaskFilter
    output_serializer = TaskSerializer
    serializer_class = TaskCreateSerializer

    def create(self, data: dict, request) -> Task:
        return task_create(**data, source=TaskSource.API)


@extend_schema_view(get=documented(
    "tasks_retrieve", "One task, with its result or error", "tasks", ok=TaskSerializer, errors=(404,),
))
class TaskDetailApi(ApiDetailView):
    output_serializer = TaskSerializer

    def fetch(self, pk: int):
        return task_get(task_id=pk)

    @documented(
        "tasks_partial_update", "Edit a pending task, or cancel it with {\"status\": \"cancelled\"}", "tasks",
        ok=TaskSerializer, errors=(400, 413, 404, 409), request=TaskUpdateSerializer,
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

    @documented(
        "tasks_cancel", "Cancel a pending task (never erases it); returns the task", "tasks",
        ok=TaskSerializer, errors=(404, 409), request=None,
        description="A pending task becomes `cancelled`; an already cancelled one is returned "
        "unchanged; a running, done or failed task is a 409.",
    )
    def delete(self, request, pk: int):
        task = task_get(task_id=pk)
        if task.status != TaskStatus.CANCELLED:
            task = task_cancel(task_id=pk)
        return Response(TaskSerializer(task).data)
