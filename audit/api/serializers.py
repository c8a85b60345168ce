from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from ..models import Change, Channel

ACTIONS = {
    Change.Action.CREATE: "create",
    Change.Action.UPDATE: "update",
    Change.Action.DELETE: "delete",
    Change.Action.ACCESS: "access",
}


class FieldChangeSerializer(serializers.Serializer):
    """One field's change: `before` and `after` for a value (null when there was none: a
    record created or deleted), `added` or `removed` for a many-to-many field."""

    field = serializers.CharField()
    before = serializers.JSONField(required=False, allow_null=True)
    after = serializers.JSONField(required=False, allow_null=True)
    added = serializers.ListField(child=serializers.CharField(), required=False)
    removed = serializers.ListField(child=serializers.CharField(), required=False)


def field_changes(changes: dict | None) -> list[dict]:
    """auditlog's `{field: [before, after]}` and `{field: {type: m2m, …}}` as a list, by field."""
    result = []
    for name, value in sorted((changes or {}).items()):
        if isinstance(value, dict) and value.get("type") == "m2m":
            key = "added" if value.get("operation") == "add" else "removed"
            result.append({"field": name, key: [str(item) for item in value.get("objects", [])]})
        else:
            before, after = value
            result.append({"field": name, "before": before, "after": after})
    return result


class ChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField(help_text="When the change was written.")
    action = serializers.SerializerMethodField()
    model = serializers.CharField(source="model_label", help_text="app_label.model")
    object_id = serializers.IntegerField(allow_null=True)
    object_repr = serializers.CharField(help_text="The record as it was named then.")
    changes = serializers.SerializerMethodField()
    user = serializers.SerializerMethodField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    via = serializers.CharField(help_text="The request (method and path) or the command.")
    remote_addr = serializers.SerializerMethodField()
    belongs_to = serializers.SerializerMethodField()
    status_updates = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "enum": list(ACTIONS.values())})
    def get_action(self, change: Change) -> str:
        return ACTIONS[change.action]

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "description": "The username of who made the change; null for a command or "
            "anything without a signed-in user. Kept after the user is deleted.",
        }
    )
    def get_user(self, change: Change) -> str | None:
        return change.actor_username or None

    @extend_schema_field(FieldChangeSerializer(many=True))
    def get_changes(self, change: Change) -> list[dict]:
        return field_changes(change.changes)

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "description": "The client's address; shown to superusers only (null for others).",
        }
    )
    def get_remote_addr(self, change: Change) -> str | None:
        request = self.context.get("request")
        return change.remote_addr if request and request.user.is_superuser else None

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "description": "The record this one belongs to (a link's measure, a figure's "
            "evidence); null for a record of its own.",
            "properties": {"model": {"type": "string"}, "id": {"type": "integer"}},
            "required": ["model", "id"],
        }
    )
    def get_belongs_to(self, change: Change) -> dict | None:
        if not change.parent_model or change.parent_id is None:
            return None
        return {"model": change.parent_model, "id": change.parent_id}

    @extend_schema_field(
        {
            "type": "string",
            "format": "uri",
            "nullable": True,
            "description": "For a measure, its links and its evidence links: the measure's "
            "status history, which is kept apart from this trail.",
        }
    )
    def get_status_updates(self, change: Change) -> str | None:
        measure_id = None
        if change.model_label == "recommendations.measure":
            measure_id = change.object_id
        elif change.parent_model == "recommendations.measure":
            measure_id = change.parent_id
        if measure_id is None:
            return None
        return reverse(
            "measure-status-updates", args=[measure_id], request=self.context.get("request")
        )
