"""The memory detail's serializers: an entry with its audited revisions, and the PATCH
that edits, pins or archives it (memory.shaping.memory_update)."""

from rest_framework import serializers

from memory.models import MemoryRevision
from memory.services import MAX_CONTENT_CHARS

from .serializers import MemoryEntrySerializer, StrictCharField, StrictInputSerializer


class StrictBooleanField(serializers.BooleanField):
    """A JSON true/false only: DRF's BooleanField would take "yes", 1 or "off"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class MemoryRevisionSerializer(serializers.ModelSerializer):
    # Plain strings: enums of choice sets other components already name would make
    # drf-spectacular warn about enum naming (as for the approval's status).
    field = serializers.CharField(read_only=True, help_text="content, pinned or archived")
    via = serializers.CharField(read_only=True, help_text="admin, api, telegram, cli or system")

    class Meta:
        model = MemoryRevision
        fields = ["id", "field", "before", "after", "by", "via", "at"]
        read_only_fields = fields


class MemoryDetailSerializer(MemoryEntrySerializer):
    kind = serializers.CharField(read_only=True, help_text="the entry's kind, as in the list")
    revisions = MemoryRevisionSerializer(many=True, read_only=True)

    class Meta(MemoryEntrySerializer.Meta):
        fields = [*MemoryEntrySerializer.Meta.fields, "revisions"]
        read_only_fields = fields


class MemoryUpdateSerializer(StrictInputSerializer):
    content = StrictCharField(
        max_length=MAX_CONTENT_CHARS, required=False, allow_blank=True, trim_whitespace=False,
        help_text="new content (the change is recorded with its old text)",
    )
    pinned = StrictBooleanField(required=False, help_text="`true`: in every prompt; `false`: no longer")
    archived = StrictBooleanField(
        required=False, help_text="`true`: out of the prompt and the default lists; `false`: restored",
    )
