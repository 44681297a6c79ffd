"""HTML input forms (label forms are built from the label set in labelsets.forms)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from django import forms
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from annotate import importers
from annotate.models import (
    FLAGGED_CAP_MAX,
    AuditAction,
    Batch,
    GoldMethod,
    Project,
    QueueStrategy,
    Role,
)
from annotate.queries import ITEM_STATUSES, TranscriptFilters
from annotate.services.assignments import SELECTION_KEYS
from annotate.services.care import WINDOW_MAX
from annotate.services.learning import RANGES, QueueSettings, queue_settings_of
from annotate.services.members import Credentials
from annotate.services.projects import ProjectSettings
from labelsets.models import LabelSetVersion
from labelsets.schema import SchemaError
from labelsets.services import labelset_file_parse


def add_service_errors(
    form: forms.Form,
    error: ValidationError,
    *,
    fields: Mapping[str, str] | None = None,
) -> None:
    """A service's ValidationError onto the form: field errors onto their
    fields (`fields` maps the service's names to the form's where they
    differ), the rest (claim expired, a reason missing...) onto the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            name = (fields or {}).get(field, field)
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL, JSON, CSV or HH-RLHF text.")
    format = forms.ChoiceField(
        choices=[
            ("", "Detect from the file"),
            *((f, f.upper()) for f in importers.FORMATS),
        ],
        required=False,
    )


class ItemFlagForm(forms.Form):
    """A manager's content warning on an item; services.care.item_flag_set
    holds the rules."""

    flagged = forms.BooleanField(required=False)
    note = forms.CharField(required=False, max_length=200)


class AgreementForm(forms.Form):
    """Which annotations the agreement figures are computed on: the fields
    the page shows; services.agreement.agreement_request_parse has the rules."""

    source_model = forms.CharField(required=False, max_length=200, label="Model")
    dataset = forms.CharField(required=False, max_length=200)
    category = forms.CharField(
        required=False, max_length=200, help_text='Transcript metadata "category".'
    )
    since = forms.DateField(
        required=False,
        help_text="First annotation day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        required=False,
        help_text="Last annotation day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    annotators = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Usernames, comma-separated; empty for everyone.",
    )
    prelabels = forms.ChoiceField(
        required=False,
        label="Pre-labels",
        choices=[
            ("", "Everyone"),
            ("seen", "Labelled with the model's pre-labels shown"),
            ("unseen", "Labelled without pre-labels"),
        ],
        help_text="Compare the agreement of those who saw pre-labels with those who did not.",
    )
    resamples = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=10_000,
        widget=forms.NumberInput(attrs={"placeholder": "1000"}),
        help_text="Bootstrap resamples for the 95% intervals.",
    )


class ExportForm(forms.Form):
    """A gold export, or a training export of the gold: the kind, the format,
    which items, and the split."""

    kind = forms.ChoiceField(
        choices=[
            ("gold", "Gold (evaluation)"),
            ("pairs", "Preference pairs (DPO)"),
            ("sft", "Fine-tuning chat rows (SFT)"),
        ],
        initial="gold",
        required=False,  # the parser's default: gold
    )
    format = forms.ChoiceField(
        choices=[("jsonl", "JSONL"), ("csv", "CSV"), ("parquet", "Parquet")],
        initial="jsonl",
        help_text="Preference pairs and fine-tuning rows: JSONL or Parquet.",
    )
    source_model = forms.CharField(required=False, max_length=200, label="Model")
    dataset = forms.CharField(required=False, max_length=200)
    min_agreement = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Items whose labels agree at least this much (1 - disagreement).",
    )
    adjudicated_only = forms.BooleanField(required=False, label="Adjudicated only")
    include_unresolved = forms.BooleanField(
        required=False,
        label="Include items whose key field is unresolved",
        help_text='Each flagged "key_resolved": false; left out otherwise.',
    )
    since = forms.DateField(
        required=False,
        help_text="Gold changed on or after.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        required=False,
        help_text="Gold changed on or before.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    train = forms.FloatField(min_value=0, max_value=1, initial=0.8)
    validation = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    test = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    annotations = forms.BooleanField(
        required=False,
        label="Every raw label too",
        help_text="Annotators appear as stable pseudonyms.",
    )
    min_confidence = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Pairs and SFT: the appropriateness gold's confidence, each row.",
    )
    max_pairs_per_group = forms.IntegerField(
        required=False, min_value=1, help_text="Pairs: at most this many per group."
    )
    quality_margin = forms.FloatField(
        required=False,
        min_value=0,
        max_value=4,
        help_text="Pairs: prefer the better of two appropriate refusals by this "
        "much of the four ratings' mean (empty: no such pairs).",
    )
    behaviour_differs = forms.BooleanField(
        required=False,
        label="Only pairs that differ in refusal behaviour",
        help_text="Pairs: the two sides' refusal types differ (one refuses and the "
        "other complies, or they refuse differently).",
    )
    refusal_type = forms.CharField(required=False, max_length=200, help_text="SFT.")
    request_harm = forms.CharField(required=False, max_length=200, help_text="SFT.")
    min_quality = forms.FloatField(
        required=False,
        min_value=1,
        max_value=5,
        help_text="SFT: refusals whose ratings' mean is at least this.",
    )

    def export_input(self) -> dict[str, object]:
        """The cleaned form as services.exports.export_options_parse reads it,
        which holds the rules (the split adding up to 1, among others)."""
        d = self.cleaned_data
        return {**d, "ratios": [d["train"], d["validation"], d["test"]]}


class BatchForm(forms.Form):
    """Which items to assign and to whom: services.assignments has the rules."""

    name = forms.CharField(required=False, max_length=200)
    source_model = forms.CharField(required=False, max_length=200, label="Model")
    dataset = forms.CharField(required=False, max_length=200)
    prompt_group = forms.CharField(required=False, max_length=200)
    metadata_key = forms.CharField(
        required=False, max_length=200, label="Metadata key", help_text="E.g. category."
    )
    metadata_value = forms.CharField(required=False, max_length=500)
    # An id, not a ModelChoiceField: services.searches.saved_search_of
    # checks it is the project's, and names it when not.
    saved_search = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="The transcripts one of the browser's saved searches finds.",
        widget=forms.Select,
    )
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10_000,
        label="At most",
        help_text="The next N items by priority; empty for all that match (10,000 at most).",
    )
    annotators = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    mode = forms.ChoiceField(choices=Batch.Mode.choices, initial=Batch.Mode.EACH)

    def __init__(
        self,
        *args: Any,
        usernames: list[str],
        searches: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["annotators"].choices = [(u, u) for u in usernames]  # type: ignore[attr-defined]
        self.fields["saved_search"].widget.choices = [("", "None"), *searches]

    def selection(self) -> dict[str, Any]:
        return {k: self.cleaned_data.get(k) for k in SELECTION_KEYS}


class MoveForm(forms.Form):
    from_annotator = forms.ChoiceField(label="From")
    to_annotators = forms.MultipleChoiceField(
        label="To", widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, usernames: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(u, u) for u in usernames]
        self.fields["from_annotator"].choices = choices  # type: ignore[attr-defined]
        self.fields["to_annotators"].choices = choices  # type: ignore[attr-defined]


class QuotaForm(forms.Form):
    quota_day = forms.IntegerField(required=False, min_value=0, label="Per day")
    quota_total = forms.IntegerField(required=False, min_value=0, label="In all")


class MemberAddForm(forms.Form):
    """Add a member: someone with an account, or a new user."""

    member = forms.CharField(
        label="Username or e-mail",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Someone without an account gets one.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
    credentials = forms.ChoiceField(
        label="A new user gets",
        choices=Credentials.choices,
        initial=Credentials.PASSWORD,
        widget=forms.RadioSelect,
        help_text="Shown once, here, to hand over: it is stored nowhere.",
    )

    # The service's names for what this form calls "member".
    SERVICE_FIELDS = {"username": "member", "email": "member"}

    def lookup(self) -> dict[str, str]:
        """The member as services.members.membership_add takes it: an
        e-mail if it has an @, else a username."""
        value: str = self.cleaned_data["member"]
        return {"email": value} if "@" in value else {"username": value}


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What it is for (a pipeline, a notebook), to tell your tokens apart.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class TranscriptFilterForm(forms.Form):
    """The transcript browser's search and filters (queries.TranscriptFilters)."""

    text = forms.CharField(
        required=False,
        max_length=500,
        label="Text",
        help_text="In any message, ignoring case.",
    )
    external_id = forms.CharField(required=False, max_length=200, label="External id")
    source_model = forms.CharField(
        required=False,
        max_length=200,
        label="Model",
        widget=forms.TextInput(attrs={"list": "source-models"}),
    )
    dataset = forms.CharField(required=False, max_length=200)
    metadata_key = forms.CharField(required=False, max_length=200, label="Metadata key")
    metadata_value = forms.CharField(
        required=False,
        max_length=500,
        label="Metadata value",
        help_text="Empty: any transcript with the key.",
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), *ITEM_STATUSES.items()],
        help_text=(
            "In progress: some labels, fewer than the project needs. Disputed: in "
            "the review queue. Adjudicated: a reviewer decided it."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("metadata_value") and not data.get("metadata_key"):
            self.add_error("metadata_key", "Name the key the value is for.")
        return data

    def filters(self) -> TranscriptFilters:
        """The valid form's filters, each stripped of surrounding spaces."""
        return TranscriptFilters(
            **{
                f.name: str(self.cleaned_data.get(f.name) or "")
                for f in dataclasses.fields(TranscriptFilters)
            }
        )


class SavedSearchForm(TranscriptFilterForm):
    """Save the browser's filters (hidden fields here) under a name;
    services.searches.saved_search_create holds the rules."""

    name = forms.CharField(max_length=100, label="Save this search as")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Ids of its own: the filter form on the same page has these names.
        super().__init__(*args, **{"auto_id": "save_%s", **kwargs})
        for name, field in self.fields.items():
            if name != "name":
                field.widget = forms.HiddenInput()


class LabelSearchForm(forms.Form):
    """Search one annotator's labels by the transcript's id or its text."""

    q = forms.CharField(
        required=False,
        max_length=500,
        label="Search",
        help_text="An external id, or text in the transcript (ignoring case).",
    )


# The managers' workspace ----------------------------------------------------

GUIDELINES_MAX = 100_000  # characters: a long handbook, far below a request's cap


def _weight(label: str, name: str, help_text: str = "") -> forms.FloatField:
    low, high = RANGES[name]
    return forms.FloatField(
        label=label,
        min_value=low,
        max_value=high,
        initial=getattr(QueueSettings, name),
        help_text=help_text or f"From {low:g} to {high:g}.",
    )


def _count(label: str, name: str, help_text: str = "") -> forms.IntegerField:
    low, high = RANGES[name]
    return forms.IntegerField(
        label=label,
        min_value=int(low),
        max_value=int(high),
        initial=getattr(QueueSettings, name),
        help_text=help_text,
    )


class ProjectForm(forms.Form):
    """A project's settings: the shape of each; project_create and
    project_update hold the rules. The queue's fields are named as
    services.learning.QueueSettings names them, so its errors land on them."""

    name = forms.CharField(max_length=200)
    label_set_version = forms.ModelChoiceField(
        queryset=LabelSetVersion.objects.none(),
        label="Label set",
        empty_label=None,
        help_text="Fixed once the project has labels.",
    )
    overlap = forms.IntegerField(
        label="Labels per item",
        min_value=1,
        max_value=50,
        initial=3,
        help_text="Independent labels each item needs (the overlap).",
    )
    lease_minutes = forms.IntegerField(
        label="Claim lease (minutes)",
        min_value=1,
        max_value=24 * 60,
        initial=30,
        help_text="How long a claimed item stays with its annotator.",
    )
    extra_labels_max = forms.IntegerField(
        label="Extra labels on disagreement",
        min_value=0,
        max_value=50,
        initial=0,
        help_text="Labels an item may get beyond the overlap when its labels disagree.",
    )
    disagreement_threshold = forms.FloatField(
        label="Disagreement threshold",
        min_value=0,
        max_value=1,
        initial=0.35,
        help_text=(
            "Above it an item's labels disagree (0: all agree, 1: spread evenly "
            "over every option of the key field)."
        ),
    )
    gold_method = forms.ChoiceField(
        label="Gold", choices=GoldMethod.choices, initial=GoldMethod.MAJORITY
    )
    guidelines = forms.CharField(
        required=False,
        max_length=GUIDELINES_MAX,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Markdown, shown beside the labelling form (g opens it there).",
    )
    queue_strategy = forms.ChoiceField(
        label="Queue order", choices=QueueStrategy.choices, initial=QueueStrategy.HYBRID
    )
    target_fields = forms.CharField(
        required=False,
        max_length=2000,
        label="Fields the model predicts",
        help_text=(
            "One-of fields by name, comma-separated; empty: the key field and "
            "appropriateness."
        ),
    )
    uncertainty = forms.ChoiceField(
        label="Uncertainty measure",
        choices=[("margin", "Margin"), ("entropy", "Entropy")],
        initial=QueueSettings.uncertainty,
    )
    weight_uncertainty = _weight(
        "Weight of the model's uncertainty", "weight_uncertainty"
    )
    weight_relabel = _weight("Weight of a weak consensus", "weight_relabel")
    weight_coverage = _weight("Weight of coverage", "weight_coverage")
    coverage_floor = _weight(
        "Coverage floor",
        "coverage_floor",
        help_text="Each model, data set and category's floor share of the labels.",
    )
    started_bonus = _weight(
        "Bonus for started items",
        "started_bonus",
        help_text="For an item with labels but short of its overlap.",
    )
    exploration = _weight(
        "Exploration share",
        "exploration",
        help_text="Share of claims served at random, for unbiased estimates.",
    )
    retrain_every = _count("Retrain every (labels)", "retrain_every")
    retrain_rest_seconds = _count(
        "Rest between retrains (seconds)",
        "retrain_rest_seconds",
        help_text="From one automatic retrain's end to the next's start.",
    )
    min_labels = _count(
        "Labels before the model ranks",
        "min_labels",
        help_text="Until then the refusal-phrase heuristic ranks.",
    )
    seed = _count("Random seed", "seed")
    blind = forms.BooleanField(
        required=False,
        initial=QueueSettings.blind,
        label="Blind labelling",
        help_text="Nothing on screen may anchor a label.",
    )
    prelabels = forms.BooleanField(
        required=False,
        initial=QueueSettings.prelabels,
        label="Show the model's pre-labels",
        help_text="Only in a project that is not blind.",
    )

    flagged_cap = forms.IntegerField(
        required=False,
        label="Items with a content warning per window",
        min_value=1,
        max_value=FLAGGED_CAP_MAX,
        help_text=(
            "After labelling this many, an annotator is offered a break and served "
            "only items without a warning until the window moves on. Empty: no cap."
        ),
    )
    flagged_window_hours = forms.FloatField(
        label="Window (hours)",
        # The bounds keep timedelta() in range; the service says the rule
        # (10 minutes to 7 days) on this field.
        min_value=0,
        max_value=WINDOW_MAX / timedelta(hours=1),
        initial=4,
        help_text="The rolling window the cap counts in: from 10 minutes to 7 days.",
    )

    QUEUE_FIELDS = (
        "target_fields",
        "uncertainty",
        *RANGES,
        "blind",
        "prelabels",
    )

    def __init__(
        self, *args: Any, versions: QuerySet[LabelSetVersion], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = cast(
            "forms.ModelChoiceField[LabelSetVersion]", self.fields["label_set_version"]
        )
        field.queryset = versions

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The service's rules (queue_settings_parse), in the words of this form.
        version = data.get("label_set_version")
        names = [n.strip() for n in data.get("target_fields", "").split(",")]
        if version is not None and any(names):
            singles = {
                f.name: f.label for f in version.schema.fields if f.kind == "single"
            }
            if bad := [n for n in names if n and n not in singles]:
                self.add_error(
                    "target_fields",
                    f"{', '.join(bad)}: not a one-of field of {version}. The model "
                    "predicts one-of fields: "
                    + ", ".join(f"{label} ({name})" for name, label in singles.items())
                    + ".",
                )
        if data.get("prelabels") and data.get("blind"):
            self.add_error(
                "prelabels",
                "Pre-labels are never shown in a blind project: turn off "
                "“Blind labelling” to show them.",
            )
        return data

    def settings(self) -> ProjectSettings:
        """The cleaned form as the services read it."""
        d = self.cleaned_data
        return ProjectSettings(
            name=d["name"],
            label_set_version=d["label_set_version"],
            overlap=d["overlap"],
            lease=timedelta(minutes=d["lease_minutes"]),
            guidelines=d["guidelines"],
            extra_labels_max=d["extra_labels_max"],
            disagreement_threshold=d["disagreement_threshold"],
            gold_method=GoldMethod(d["gold_method"]),
            queue_strategy=QueueStrategy(d["queue_strategy"]),
            queue_settings={name: d[name] for name in self.QUEUE_FIELDS},
            flagged_cap=d["flagged_cap"],
            flagged_window=timedelta(hours=d["flagged_window_hours"]),
        )

    # The services' names for settings this form shows in other units.
    SERVICE_NAMES = {"lease": "lease_minutes", "flagged_window": "flagged_window_hours"}

    @staticmethod
    def initial_for(project: Project) -> dict[str, object]:
        """The form's values for an existing project."""
        queue = queue_settings_of(project)
        return {
            "name": project.name,
            "label_set_version": project.label_set_version_id,
            "overlap": project.overlap,
            "lease_minutes": int(project.lease.total_seconds() // 60),
            "extra_labels_max": project.extra_labels_max,
            "disagreement_threshold": project.disagreement_threshold,
            "gold_method": project.gold_method,
            "guidelines": project.guidelines,
            "queue_strategy": project.queue_strategy,
            **{
                name: getattr(queue, name)
                for name in ProjectForm.QUEUE_FIELDS
                if name != "target_fields"
            },
            "target_fields": ", ".join(queue.target_fields),
            "flagged_cap": project.flagged_cap,
            "flagged_window_hours": project.flagged_window / timedelta(hours=1),
        }


class LabelSetUploadForm(forms.Form):
    file = forms.FileField(
        label="Label set file",
        help_text="YAML or JSON, as manage.py labelset_dump writes it; at most 1 MB.",
    )

    MAX_BYTES = 1024 * 1024

    def clean_file(self) -> dict[str, object]:
        """The file's data: it must be UTF-8 text that parses as YAML or JSON
        (labelsets' labelset_file_parse). The schema is checked later, with
        every error's path."""
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError(
                "The file is over 1 MB: a label set is a few kilobytes."
            )
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValidationError(f"{upload.name} is not UTF-8 text.") from e
        try:
            return labelset_file_parse(text=text, filename=upload.name)
        except SchemaError as e:
            raise ValidationError(str(e)) from e


UPLOAD_SALT = "annotate.labelset-upload"
UPLOAD_MAX_AGE = 24 * 3600  # a preview left open overnight still saves


def labelset_upload_token(user: User, data: Mapping[str, object]) -> str:
    """An uploaded file's data, signed for its uploader: the preview's save
    and check forms carry it, so nothing is stored before the save."""
    return signing.dumps(
        {"user": user.pk, "data": data}, salt=UPLOAD_SALT, compress=True
    )


class LabelSetTokenForm(forms.Form):
    """The uploaded data a preview carries (prefix "labelset": its field is
    labelset-upload, a name no label set field can have)."""

    upload = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs["prefix"] = "labelset"
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_upload(self) -> dict[str, object]:
        try:
            signed = signing.loads(
                self.cleaned_data["upload"], salt=UPLOAD_SALT, max_age=UPLOAD_MAX_AGE
            )
        except signing.BadSignature as e:
            raise ValidationError(
                "This preview has expired or was changed: upload the file again."
            ) from e
        if signed.get("user") != self.user.pk:
            raise ValidationError("This preview is someone else's: upload the file.")
        data: dict[str, object] = signed["data"]
        return data


class QualityForm(forms.Form):
    """A project's quality-control settings (services.quality.project_quality_set)."""

    check_rate = forms.FloatField(
        min_value=0.0,
        max_value=0.5,
        label="Share of claims that are gold questions",
        help_text="0 to 0.5; 0.05 serves one in twenty.",
    )
    qualification_size = forms.IntegerField(
        min_value=0,
        max_value=1000,
        label="Qualification questions",
        help_text="A new annotator answers this many gold questions before the pool; 0 for none.",
    )
    qualification_pass = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        label="Pass mark",
        help_text="Share right, 0 to 1.",
    )
    pause_below = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        label="Pause below",
        help_text="Pause an annotator whose recent share right falls below this; empty: never.",
    )
    pause_window = forms.IntegerField(
        min_value=1, max_value=200, label="Recent questions the pause looks at"
    )


class HistoryFilterForm(forms.Form):
    """The History page's filters and its keyset cursor (`before`, an entry id)."""

    OBJECT_TYPES = [
        ("", "Anything"),
        ("project", "Project"),
        ("membership", "Member"),
        ("annotation", "Label"),
        ("decision", "Decision"),
        ("batch", "Batch"),
    ]

    action = forms.ChoiceField(
        required=False, choices=[("", "Any change"), *AuditAction.choices]
    )
    actor = forms.ChoiceField(required=False, label="By")
    object_type = forms.ChoiceField(required=False, choices=OBJECT_TYPES, label="On")
    object_id = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, label="Id"
    )
    before = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, actors: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), *((a, a) for a in actors)]  # type: ignore[attr-defined]
