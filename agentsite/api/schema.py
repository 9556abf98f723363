"""OpenAPI tweaks (drf-spectacular extensions register themselves when this is imported)."""

from drf_spectacular.extensions import OpenApiSerializerExtension


class StrictInputSerializerExtension(OpenApiSerializerExtension):
    """Input bodies reject unknown keys, so say so: `additionalProperties: false`."""

    target_class = "agentsite.api.serializers.StrictInputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}
