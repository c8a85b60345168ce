"""What the imports' API takes and answers. Rows are built as plain dicts (selectors.row_dicts):
these serializers describe them for the schema."""

from rest_framework import serializers

from recommendations.choices import Confidence, Status

from ..models import Import, ImportRow


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The CSV (UTF-8 or GBK) or XLSX file: one status update per row, under the "
        "template's headings or the status history export's."
    )


class ImportValuesSerializer(serializers.Serializer):
    """What a row says, as read (a value that could not be read is absent)."""

    measure = serializers.CharField(required=False, help_text="The measure's code.")
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    progress = serializers.IntegerField(required=False, allow_null=True)
    effective_date = serializers.DateField(required=False)
    confidence = serializers.ChoiceField(
        choices=Confidence.choices, required=False, allow_blank=True
    )
    note = serializers.CharField(required=False, allow_blank=True)
    evidence = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Evidence keys."
    )
    recorded_at = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="In the status history export's layout: when the entry was recorded there "
        "(it orders one day's entries).",
    )


class ImportProblemSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True, help_text="The value at fault (null: the row as a whole)."
    )
    column = serializers.CharField(
        allow_blank=True, help_text="The column's letter, as spreadsheets name it."
    )
    heading = serializers.CharField(allow_blank=True, help_text="The column's heading.")
    messages = serializers.ListField(
        child=serializers.CharField(), help_text="In the language of the request."
    )


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row's number, as the spreadsheet shows it.")
    outcome = serializers.ChoiceField(
        choices=ImportRow.Outcome.choices,
        help_text="record: would be recorded on confirmation; recorded: recorded by it; "
        "already: the history holds this entry already; propose: would be proposed for review "
        "on confirmation (an import whose route is `propose`); proposed: proposed by it; "
        "already_proposed: an open proposal of the uploader says this already; error: see "
        "problems.",
    )
    key = serializers.CharField(
        help_text="A digest of what the row says and how many rows before it say the same."
    )
    values = ImportValuesSerializer()
    problems = ImportProblemSerializer(many=True)
    status_update = serializers.IntegerField(
        allow_null=True, help_text="The status update it recorded."
    )
    proposal = serializers.IntegerField(
        allow_null=True, help_text="The proposal it made (GET /api/v1/proposals/{id}/)."
    )


class ImportSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="import-detail")
    uploaded_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    confirmed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    encoding = serializers.ChoiceField(
        choices=Import.Encoding.choices,
        allow_blank=True,
        read_only=True,
        help_text="How a CSV file's text was read (blank for an XLSX).",
    )
    route = serializers.ChoiceField(
        choices=Import.Route.choices,
        read_only=True,
        help_text="What its valid rows become on confirmation: `record` (an analyst's), or "
        "`propose`, proposed for review in the uploader's name (someone whose status updates "
        "go to review, such as a reporter; only they confirm it).",
    )
    row_count = serializers.IntegerField(source="rows", read_only=True)
    already_recorded = serializers.IntegerField(source="already", read_only=True)
    with_errors = serializers.IntegerField(source="errors", read_only=True)

    class Meta:
        model = Import
        fields = (
            "id",
            "url",
            "filename",
            "digest",
            "size",
            "format",
            "encoding",
            "channel",
            "uploaded_by",
            "uploaded_at",
            "state",
            "route",
            "version",
            "confirmed_by",
            "confirmed_at",
            "row_count",
            "to_record",
            "to_propose",
            "already_recorded",
            "already_proposed",
            "with_errors",
        )
        read_only_fields = fields


class ImportDetailSerializer(ImportSerializer):
    rows = ImportRowSerializer(many=True, source="row_dicts", read_only=True)

    class Meta(ImportSerializer.Meta):
        fields = (*ImportSerializer.Meta.fields, "rows")
        read_only_fields = fields


class TemplateParamsSerializer(serializers.Serializer):
    file = serializers.ChoiceField(choices=("csv", "xlsx"), default="csv")
    lang = serializers.ChoiceField(choices=("en", "zh"), default="en")
