"""What the agent is learning (read-only)."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from actions.models import Skill

from ..serializers import SkillSerializer
from .base import ApiListView, ApiView, error_responses


class SkillListApi(ApiListView):
    @extend_schema(
        operation_id="skills_list",
        summary="Skills, by name",
        responses={200: SkillSerializer(many=True), **error_responses(404)},
        tags=["skills"],
    )
    def get(self, request):
        return self.paginated(Skill.objects.order_by("name", "id"), SkillSerializer)


class SkillDetailApi(ApiView):
    @extend_schema(
        operation_id="skills_retrieve",
        summary="One skill, with its study notes",
        responses={200: SkillSerializer, **error_responses(404)},
        tags=["skills"],
    )
    def get(self, request, pk: int):
        skill = Skill.objects.filter(pk=pk).first()
        if skill is None:
            raise NotFound(f"Skill #{pk} does not exist")
        return Response(SkillSerializer(skill).data)
