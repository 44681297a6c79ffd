"""Reviewer pages: browse the project's transcripts, the annotator table, the
agreement figures, the review queue and screen, the calibration report."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)
from django_htmx.http import HttpResponseClientRefresh, retarget

from annotate.access import access_project, access_review_item
from annotate.charts import alpha_chart, heat_map, rate_chart, weekly_chart
from annotate.forms import (
    AgreementForm,
    LabelSearchForm,
    SavedSearchForm,
    TranscriptFilterForm,
    add_service_errors,
)
from annotate.http import AuthenticatedHtmxRequest
from annotate.inputs import query_number
from annotate.models import (
    Job,
    JobKind,
    JobStatus,
    Membership,
    Project,
    Role,
    SavedSearch,
    Transcript,
)
from annotate.queries import (
    ANNOTATOR_SORTS,
    ITEM_STATUSES,
    QUEUE_LEFT_CAP,
    SEARCH_TIMEOUT_MS,
    ReviewItem,
    SearchTooSlow,
    TranscriptFilters,
    adjudication_queue,
    agreement_job_for,
    annotations_of,
    annotator_table,
    item_status,
    job_for,
    job_live,
    review_item,
    saved_searches_of,
    source_models_imported,
    transcript_for_review,
    transcripts_browse,
)
from annotate.services.agreement import agreement_request_parse
from annotate.services.exports import calibration_breakdown_parse
from annotate.services.gold import decision_record
from annotate.services.jobs import (
    agreement_job_create,
    calibration_job_create,
    calibration_params,
)
from annotate.services.review import review_claim_next, review_claim_take
from annotate.services.searches import saved_search_create, saved_search_delete
from annotate.stats.aggregation import METHOD_LABELS, gold_chosen
from annotate.stats.calibration import DEFAULT_BREAKDOWN, FIGURES, QUALITY
from annotate.views.care import flag_context
from labelsets.forms import label_form_for

PAGE = 50


@require_GET
@login_required
def transcript_list(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The project's transcripts, searched and filtered by the query string."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    # Keyset pagination: no COUNT over the table, flat cost on any page.
    after = query_number(request.GET, "after") or 0
    return _browser(request, project, TranscriptFilterForm(request.GET), after=after)


@require_POST
@login_required
def saved_search_new(
    request: AuthenticatedHtmxRequest, project_id: int
) -> HttpResponse:
    """Save the browser's filters (the form's hidden fields) under a name."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    form = SavedSearchForm(request.POST)
    notice = ""
    if form.is_valid():
        try:
            search = saved_search_create(
                project=project,
                name=form.cleaned_data["name"],
                filters=form.filters(),
                created_by=request.user,
                now=timezone.now(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            if not request.htmx:
                return redirect(_browser_url(project, search.filters.query))
            notice = f"Saved “{search.name}”."
            form = SavedSearchForm(initial=form.cleaned_data | {"name": ""})
    if not request.htmx:
        return _browser(
            request, project, TranscriptFilterForm(request.POST), save_form=form
        )
    ctx = {
        "project": project,
        "save_form": form,
        "notice": notice,
        "saved_searches": saved_searches_of(project),
    }
    return render(request, "annotate/review/transcripts.html#saved-searches", ctx)


@require_POST
@login_required
def saved_search_delete_view(
    request: AuthenticatedHtmxRequest, project_id: int, search_id: int
) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    search = get_object_or_404(SavedSearch, project=project, pk=search_id)
    try:
        saved_search_delete(search=search)
    except ValidationError as e:  # an archived project
        messages.error(request, " ".join(e.messages))
        # The reloaded page shows the message; a row has no room for it.
        if request.htmx:
            return HttpResponseClientRefresh()
    if not request.htmx:
        return redirect(_browser_url(project))
    return HttpResponse("")  # htmx swaps the search's row out for nothing


def _browser_url(project: Project, query: str = "") -> str:
    url = reverse("annotate:transcripts", kwargs={"project_id": project.pk})
    return f"{url}?{query}" if query else url


def _browser(
    request: AuthenticatedHtmxRequest,
    project: Project,
    form: TranscriptFilterForm,
    *,
    after: int = 0,
    save_form: SavedSearchForm | None = None,
) -> HttpResponse:
    """The browser's page for `form`'s filters, with the saved searches and,
    when something is filtered, a form to save the filters."""
    page: list[Transcript] = []
    error = ""
    if form.is_valid():
        try:
            page = transcripts_browse(
                project=project,
                filters=form.filters(),
                after=after,
                limit=PAGE + 1,
                viewer_id=request.user.pk,
            )
        except SearchTooSlow:
            error = (
                f"The text search took longer than {SEARCH_TIMEOUT_MS // 1000} "
                "seconds and was stopped: narrow it by model, dataset or status, "
                "or look the transcript up by its external id."
            )
        if save_form is None and form.filters() != TranscriptFilters():
            save_form = SavedSearchForm(initial=form.cleaned_data)
    # What the links keep (the next page, Clear): the valid filters, or what was asked.
    query = form.filters().query if form.is_valid() else request.GET.urlencode()
    ctx = {
        "project": project,
        "form": form,
        "error": error,
        "transcripts": page[:PAGE],
        "rows": [(t, _status_label(project, t)) for t in page[:PAGE]],
        "next_after": page[PAGE - 1].pk if len(page) > PAGE else None,
        "query": query,
        "source_models": source_models_imported(project),
        "saved_searches": saved_searches_of(project),
        "save_form": save_form,
    }
    return render(request, "annotate/review/transcripts.html", ctx)


def _status_label(project: Project, transcript: Transcript) -> str:
    """The item's state in the screen's words; not shown on an item the
    viewer labels themselves (it could hint at the others' labels)."""
    if getattr(transcript, "seen", False):
        return "You label this item"
    item = getattr(transcript, "item", None)
    return ITEM_STATUSES[item_status(project, item)] if item else "Not queued"


@require_GET
@login_required
def transcript_by_external_id(
    request: AuthenticatedHtmxRequest, project_id: int, external_id: str
) -> HttpResponse:
    """A link by external id: the transcript, or the browser listing every
    transcript with that id (one per model) when there are several."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    found = list(
        Transcript.objects.filter(project=project, external_id=external_id)
        .order_by("pk")
        .values_list("pk", flat=True)[:2]
    )
    if not found:
        raise Http404("No transcript with that external id in this project.")
    if len(found) == 1:
        return redirect(
            "annotate:transcript", project_id=project.pk, transcript_id=found[0]
        )
    url = reverse("annotate:transcripts", kwargs={"project_id": project.pk})
    return redirect(f"{url}?{urlencode({'external_id': external_id})}")


@require_GET
@login_required
def transcript_detail(
    request: AuthenticatedHtmxRequest, project_id: int, transcript_id: int
) -> HttpResponse:
    membership = access_project(request.user, project_id, role=Role.REVIEWER)
    project = membership.project
    transcript = transcript_for_review(
        project=project, transcript_id=transcript_id, viewer_id=request.user.pk
    )
    if transcript is None:
        raise Http404("No such transcript in this project.")
    ctx = {
        # The content warning section (its flag, records and form), then the page.
        **flag_context(membership, transcript),
        "status": _status_label(project, transcript),
    }
    return render(request, "annotate/review/transcript.html", ctx)


@require_http_methods(["GET", "POST"])
@login_required
def agreement(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The figures for the filters in the query string; POST (re)computes them."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    form = AgreementForm(request.GET)
    params = None
    if form.is_valid():
        try:
            params = agreement_request_parse(project=project, data=request.GET).params
        except ValidationError as e:
            add_service_errors(form, e)
    job = None
    if params is not None:
        if request.method == "POST":
            job = agreement_job_create(
                project=project,
                params=params,
                created_by=request.user,
                now=timezone.now(),
            )
            if not request.htmx:  # no-JS: PRG back to the page, which shows progress
                return redirect(f"{request.path}?{request.GET.urlencode()}")
            job.refresh_from_db()  # without a broker it has run already
        else:
            job = agreement_job_for(project=project, params=params)
    ctx = _agreement_context(project, form, job, query=request.GET.urlencode())
    if request.htmx:
        return render(request, "annotate/review/agreement.html#agreement-status", ctx)
    return render(request, "annotate/review/agreement.html", ctx)


def _kappa_map(names: list[str], kappa: dict[str, Any]) -> dict[str, object]:
    """One field's Cohen's kappa heat map: every pair's kappa with its shared
    items under it, "†" on those below the report's min_shared. A report
    from before all_pairs has only the pairs reaching the minimum: no marks."""
    shared = kappa["shared"]
    values = kappa.get("all_pairs", kappa["matrix"])
    least = kappa.get("min_shared")
    n = len(names)
    marks = [
        [
            "†" if least and values[i][j] is not None and shared[i][j] < least else ""
            for j in range(n)
        ]
        for i in range(n)
    ]
    notes = [
        [f"n={shared[i][j]}" if i != j else "" for j in range(n)] for i in range(n)
    ]
    return {
        "map": heat_map(names, values, high=1.0, digits=2, marks=marks, notes=notes),
        "min_shared": least,
    }


def _agreement_context(
    project: Project, form: AgreementForm, job: Job | None, *, query: str
) -> dict[str, object]:
    """The page's figures, charts and state for the job's report, if any."""
    ctx: dict[str, object] = {"project": project, "form": form, "query": query}
    if job is not None:
        job = job_live(job)
    ctx["job"] = job
    if job is None or job.status != JobStatus.SUCCEEDED:
        return ctx
    report = job.result
    ctx["report"] = report
    ctx["computed_at"] = job.finished_at
    ctx["stale"] = report["counts"]["project_annotations"] != project.annotations_total
    ctx["alpha"] = alpha_chart(
        [
            (f"{field['name']} ({figure['level']})", figure)
            for field in report["fields"]
            for figure in field["figures"]
        ]
    )
    if coincidence := report["coincidence"]:
        ctx["coincidence"] = heat_map(coincidence["labels"], coincidence["matrix"])
    names = [row["username"] for row in report["annotators"]]
    singles = report["single_fields"]
    ctx["kappas"] = [
        {"field": name, **_kappa_map(names, report["kappa"][name])} for name in singles
    ]
    overall = {
        field["name"]: field["figures"][0]["alpha"]
        for field in report["fields"]
        if field["kind"] == "single" and field["figures"]
    }
    ctx["single_fields"] = singles
    ctx["annotator_rows"] = [
        {
            **row,
            "cells": [
                {
                    **row["majority_agreement"][name],
                    "without": row["alpha_without"][name],
                    # Alpha rises without them: they pull it down.
                    "drags": row["alpha_without"][name] is not None
                    and overall.get(name) is not None
                    and row["alpha_without"][name] > overall[name] + 0.01,
                }
                for name in singles
            ],
        }
        for row in report["annotators"]
    ]
    ctx["weekly"] = weekly_chart(report["weekly"])
    return ctx


# The annotator table's columns: (sort key, heading, numeric, first direction).
ANNOTATOR_COLUMNS = [
    ("annotator", "Annotator", False, ""),
    ("role", "Role", False, ""),
    ("today", "Today", True, "-"),
    ("total", "Total", True, "-"),
    ("median_seconds", "Median seconds", True, "-"),
    ("skips", "Skips", True, "-"),
    ("agreement", "Agreement", True, "-"),
    ("accuracy_decided", "Accuracy: decisions", True, "-"),
    ("accuracy_aggregated", "Accuracy: label gold", True, "-"),
    ("accuracy_questions", "Accuracy: gold questions", True, "-"),
    ("last_active", "Last active", True, "-"),
]


@require_GET
@login_required
def annotators(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """Every annotator's pace, skips, agreement and accuracy, sorted by the
    column in `sort` (`-` first for descending); htmx swaps the table only."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    sort = request.GET.get("sort", "")
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    if key not in ANNOTATOR_SORTS:
        key, descending = "annotator", False
    table = annotator_table(
        project=project, now=timezone.now(), sort=key, descending=descending
    )
    columns = [
        {
            "key": name,
            "label": label,
            "num": num,
            # Sorted already: the other way round; else the column's own way.
            "next": ("" if descending else "-") + name if name == key else first + name,
            "aria_sort": ("descending" if descending else "ascending")
            if name == key
            else None,
        }
        for name, label, num, first in ANNOTATOR_COLUMNS
    ]
    ctx = {"project": project, "table": table, "columns": columns}
    if request.htmx:
        return render(request, "annotate/review/annotators.html#annotator-table", ctx)
    return render(request, "annotate/review/annotators.html", ctx)


@require_GET
@login_required
def annotator_annotations(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    """One annotator's labels in the project, newest first, searchable."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    member = (
        Membership.objects.filter(project=project, user_id=user_id)
        .select_related("user")
        .first()
    )
    if member is None:
        raise Http404("No such annotator in this project.")
    form = LabelSearchForm(request.GET)
    search = form.cleaned_data["q"] if form.is_valid() else ""
    page = annotations_of(
        project=project,
        user_id=user_id,
        search=search,
        before=query_number(request.GET, "before"),
        limit=PAGE + 1,
        hide_seen_by=request.user.pk,
    )
    fields = project.label_set_version.schema.fields
    ctx = {
        "project": project,
        "member": member,
        "form": form,
        "search": search,
        "fields": fields,
        "hiding": user_id != request.user.pk,
        "rows": [
            (a, [f.shown(a.values.get(f.name)) for f in fields]) for a in page[:PAGE]
        ],
        "next_before": page[PAGE - 1].pk if len(page) > PAGE else None,
    }
    return render(request, "annotate/review/annotator.html", ctx)


@require_GET
@login_required
def adjudication(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The adjudication queue: items to decide, most disagreeing first."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    queue = adjudication_queue(project, reviewer_id=request.user.pk, now=timezone.now())
    ctx = {
        "project": project,
        "items": list(queue.select_related("transcript", "gold")[:PAGE]),
        # Counted, but capped: at most QUEUE_LEFT_CAP rows are read.
        "waiting": queue.order_by()[:QUEUE_LEFT_CAP].count(),
        "cap": QUEUE_LEFT_CAP,
    }
    return render(request, "annotate/review/adjudication.html", ctx)


@require_GET
@login_required
def review_next(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """Claim the next item of the reviewer's queue and open it; the queue
    page when nothing is left."""
    membership = access_project(request.user, project_id, role=Role.REVIEWER)
    claim = review_claim_next(membership=membership, now=timezone.now())
    if claim is None:
        return redirect("annotate:adjudication", project_id=project_id)
    return redirect("annotate:adjudicate", project_id=project_id, item_id=claim.item_id)


@require_http_methods(["GET", "POST"])
@login_required
def adjudicate(
    request: AuthenticatedHtmxRequest, project_id: int, item_id: int
) -> HttpResponse:
    """One item side by side with its labels, claimed for the reviewer; POST
    records the decision and brings the next item of the queue (htmx) or
    redirects to it."""
    membership = access_project(request.user, project_id, role=Role.REVIEWER)
    project = membership.project
    access_review_item(request.user, project, item_id)
    review = review_item(project=project, item_id=item_id)
    if review is None:
        raise Http404("No such item in this project.")
    now = timezone.now()
    form_class = label_form_for(project.label_set_version)
    reason = request.POST.get("reason", "")
    message = ""
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                decision_record(
                    item=review.item,
                    reviewer=request.user,
                    values=form.cleaned_data,
                    reason=reason,
                    now=now,
                )
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                return _next_for_review(request, membership, now=now)
    else:
        form = form_class(initial=gold_chosen(review.gold))
        try:
            review_claim_take(membership=membership, item=review.item, now=now)
        except ValidationError as e:  # another reviewer is on it: say so
            message = " ".join(e.messages)
    ctx = _review_context(
        project,
        review,
        form,
        reason=reason,
        message=message,
        reviewer_id=request.user.pk,
        now=now,
    )
    return _review_render(request, ctx)


def _next_for_review(
    request: AuthenticatedHtmxRequest, membership: Membership, *, now: datetime
) -> HttpResponse:
    project = membership.project
    claim = review_claim_next(membership=membership, now=now)
    if not request.htmx:  # no-JS: PRG to the next item, or the queue when done
        if claim is None:
            return redirect("annotate:adjudication", project_id=project.pk)
        return redirect(
            "annotate:adjudicate", project_id=project.pk, item_id=claim.item_id
        )
    review = review_item(project=project, item_id=claim.item_id) if claim else None
    form = (
        label_form_for(project.label_set_version)(initial=gold_chosen(review.gold))
        if review
        else None
    )
    ctx = _review_context(
        project,
        review,
        form,
        reason="",
        message="Decision saved.",
        reviewer_id=request.user.pk,
        now=now,
    )
    return _review_render(request, ctx)


def _review_context(
    project: Project,
    review: ReviewItem | None,
    form: forms.Form | None,
    *,
    reason: str,
    message: str,
    reviewer_id: int,
    now: datetime,
) -> dict[str, object]:
    fields = [f for f in project.label_set_version.schema.fields if f.kind != "text"]
    return {
        "project": project,
        "review": review,
        "review_item": review.item if review else None,
        "transcript": review.item.transcript if review else None,
        "form": form,
        "reason": reason,
        "message": message,
        "fields": fields,
        # One row per field, one column per label: the labels side by side.
        "grid": [
            (
                f,
                [f.shown(label.values.get(f.name)) for label in review.labels],
                f.shown(review.gold.get(f.name, {}).get("value")),
                METHOD_LABELS.get(method, method)
                if (method := review.gold.get(f.name, {}).get("method"))
                else "none",
            )
            for f in fields
        ]
        if review
        else [],
        # The other samples of the prompt, by their gold on the first fields.
        "sibling_fields": fields[:3],
        "siblings": [
            (t, [f.shown(gold.get(f.name, {}).get("value")) for f in fields[:3]])
            for t, gold in review.siblings
        ]
        if review
        else [],
        "waiting": adjudication_queue(project, reviewer_id=reviewer_id, now=now)
        .order_by()[:QUEUE_LEFT_CAP]
        .count(),
        "cap": QUEUE_LEFT_CAP,
    }


def _review_render(
    request: AuthenticatedHtmxRequest, ctx: dict[str, object]
) -> HttpResponse:
    if request.htmx:
        response = render(request, "annotate/review/adjudicate.html#item-panel", ctx)
        return retarget(response, "#item-panel")
    return render(request, "annotate/review/adjudicate.html", ctx)


@require_http_methods(["GET", "POST"])
@login_required
def calibration(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The calibration report per source model; POST (re)computes it as a job."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    error = ""
    try:
        breakdown = calibration_breakdown_parse(request.POST or request.GET)
    except ValidationError as e:
        breakdown, error = DEFAULT_BREAKDOWN, " ".join(e.messages)
    params = calibration_params(breakdown)
    job = job_for(project=project, kind=JobKind.CALIBRATION, params=params)
    if request.method == "POST" and not error:
        job = calibration_job_create(
            project=project,
            breakdown=breakdown,
            created_by=request.user,
            now=timezone.now(),
        )
        if not request.htmx:  # no-JS: PRG back to the page, which shows progress
            return redirect(f"{request.path}?{urlencode(params)}")
        job.refresh_from_db()  # without a broker it has run already
    ctx = _calibration_context(project, job_live(job) if job else None)
    ctx.update(breakdown=breakdown, query=urlencode(params), error=error)
    if request.htmx:
        return render(
            request, "annotate/review/calibration.html#calibration-status", ctx
        )
    return render(request, "annotate/review/calibration.html", ctx)


UNBIASED_LABELS = {
    "over_refusal": "Over-refusal",
    "under_refusal": "Under-refusal",
    "partial_compliance": "Partial compliance",
    "leakage": "Leakage",
    "capitulation": "Capitulation",
}


def _calibration_context(project: Project, job: Job | None) -> dict[str, object]:
    ctx: dict[str, object] = {"project": project, "job": job}
    if job is None or job.status != JobStatus.SUCCEEDED:
        return ctx
    report = job.result
    ctx["report"] = report
    ctx["computed_at"] = job.finished_at
    ctx["stale"] = report["counts"]["project_annotations"] != project.annotations_total
    ctx["charts"] = [
        {
            "figure": figure,
            "title": figure.replace("_", "-").capitalize(),
            "definition": report["definitions"].get(figure, ""),
            "chart": rate_chart([(m["model"], m[figure]) for m in report["models"]]),
        }
        for figure in FIGURES
    ]
    ctx["quality"] = QUALITY
    # Reports from before the unbiased figures have none.
    unbiased = report.get("unbiased") or {"basis": "", "models": []}
    by_model = {m["model"]: m for m in unbiased["models"]}
    ctx["unbiased"] = unbiased
    ctx["models"] = [
        {
            **m,
            "unbiased": [
                (UNBIASED_LABELS[name], rate)
                for name, rate in by_model[m["model"]].items()
                if name in UNBIASED_LABELS
            ]
            if m["model"] in by_model
            else None,
        }
        for m in report["models"]
    ]
    return ctx
