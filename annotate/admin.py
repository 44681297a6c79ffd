from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from annotate.models import (
    Annotation,
    ApiToken,
    Assignment,
    Decision,
    Gold,
    Item,
    Job,
    Membership,
    Project,
    Transcript,
)


class MembershipInline(admin.TabularInline[Membership, Project]):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = [
        "name",
        "label_set_version",
        "overlap",
        "extra_labels_max",
        "disagreement_threshold",
        "items_total",
        "items_complete",
    ]
    search_fields = ["name"]
    # Counters are kept by the services; editing them by hand would make them lie.
    readonly_fields = [
        "items_total",
        "items_complete",
        "annotations_total",
        "created_at",
    ]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "project", "role", "is_active"]
    list_filter = ["role", "is_active", "project"]
    search_fields = ["user__username", "project__name"]


@admin.register(Transcript)
class TranscriptAdmin(admin.ModelAdmin[Transcript]):
    list_display = [
        "id",
        "project",
        "source_model",
        "dataset",
        "external_id",
        "prompt_group",
    ]
    list_filter = ["project", "source_model"]
    search_fields = ["external_id", "prompt_group", "content_hash"]
    readonly_fields = ["content_hash", "created_at", "job"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin[Item]):
    list_display = [
        "transcript",
        "project",
        "priority",
        "slots_left",
        "annotations_count",
        "disagreement",
    ]
    list_filter = ["project"]
    raw_id_fields = ["transcript"]
    readonly_fields = [
        "slots_left",
        "annotations_count",
        "skips_count",
        "disagreement",
    ]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin[Assignment]):
    list_display = ["id", "item", "annotator", "status", "claimed_at", "expires_at"]
    list_filter = ["status"]
    raw_id_fields = ["item"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin[Annotation]):
    list_display = ["id", "item", "annotator", "label_set_version", "created_at"]
    raw_id_fields = ["item"]
    readonly_fields = ["client_uuid", "created_at", "updated_at"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = [
        "id",
        "kind",
        "project",
        "status",
        "progress_done",
        "progress_total",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = ["result", "errors", "params"]


@admin.register(Gold)
class GoldAdmin(admin.ModelAdmin[Gold]):
    list_display = ["item", "key_resolved", "adjudicated", "updated_at"]
    list_filter = ["key_resolved", "adjudicated"]
    # Kept by the services from the labels and decisions: read only here.
    readonly_fields = ["item", "values", "key_resolved", "adjudicated", "updated_at"]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin[Decision]):
    list_display = ["item", "number", "reviewer", "created_at"]
    search_fields = ["reviewer__username", "reason"]
    # Decisions are a history: a change is a new decision, never an edit.
    readonly_fields = [
        "item",
        "number",
        "reviewer",
        "label_set_version",
        "values",
        "before",
        "reason",
        "created_at",
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = [
        "name",
        "prefix",
        "user",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    # Made and revoked by the services (the profile and members pages,
    # create_token): a key exists only when made there, so no adding here.
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
