"""What the agent is learning (read-only)."""

from drf_spectacular.utils import extend_schema_view

from actions.selectors import skill_browse, skill_get

from ..serializers import SkillSerializer
from .base import ApiDetailView, ApiListView, documented


@extend_schema_view(get=documented(
    "skills_list", "Skills, by name", "skills", ok=SkillSerializer(many=True), errors=(404,),
))
class SkillListApi(ApiListView):
    browse = staticmethod(skill_browse)
    filter_backends = []  # no filters: any query parameter is ignored, as before
    output_serializer = SkillSerializer


@extend_schema_view(get=documented(
    "skills_retrieve", "One skill, with its study notes", "skills", ok=SkillSerializer, errors=(404,),
))
class SkillDetailApi(ApiDetailView):
    output_serializer = SkillSerializer

    def fetch(self, pk: int):
        return skill_get(skill_id=pk)
