"""Reviewer pages: browse the project's transcripts, read the agreement figures."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import retarget

from annotate.access import access_project, access_review_item
from annotate.charts import alpha_chart, heat_map, rate_chart, weekly_chart
from annotate.forms import AgreementForm, add_service_errors
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import (
    Annotation,
    Job,
    JobKind,
    JobStatus,
    Membership,
    Project,
    Role,
    Transcript,
)
from annotate.queries import (
    QUEUE_LEFT_CAP,
    ReviewItem,
    adjudication_queue,
    agreement_job_for,
    job_for,
    job_live,
    review_item,
)
from annotate.services.agreement import agreement_request_parse
from annotate.services.exports import calibration_breakdown_parse
from annotate.services.gold import decision_record
from annotate.services.jobs import (
    agreement_job_create,
    calibration_job_create,
    calibration_params,
)
from annotate.stats.aggregation import METHOD_LABELS
from annotate.stats.calibration import DEFAULT_BREAKDOWN, FIGURES, QUALITY
from annotate.views.care import flag_context
from labelsets.forms import label_form_for

PAGE = 50


@require_GET
@login_required
def transcript_list(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    # Keyset pagination: no COUNT over the table, flat cost on any page.
    after = int(request.GET["after"]) if request.GET.get("after", "").isdigit() else 0
    page = list(
        Transcript.objects.filter(project=project, pk__gt=after)
        .select_related("item")
        .order_by("pk")[: PAGE + 1]
    )
    ctx = {
        "project": project,
        "transcripts": page[:PAGE],
        "next_after": page[PAGE - 1].pk if len(page) > PAGE else None,
    }
    return render(request, "annotate/review/transcripts.html", ctx)


@require_GET
@login_required
def transcript_detail(
    request: AuthenticatedHtmxRequest, project_id: int, transcript_id: int
) -> HttpResponse:
    membership = access_project(request.user, project_id, role=Role.REVIEWER)
    transcript = (
        Transcript.objects.filter(project=membership.project, pk=transcript_id)
        .select_related("item")
        .first()
    )
    if transcript is None:
        raise Http404("No such transcript in this project.")
    ctx = flag_context(membership, transcript)  # the content warning section
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


@require_GET
@login_required
def annotator_annotations(
    request: AuthenticatedHtmxRequest, project_id: int, user_id: int
) -> HttpResponse:
    """One annotator's labels in the project, newest first (from the agreement page)."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    member = (
        Membership.objects.filter(project=project, user_id=user_id)
        .select_related("user")
        .first()
    )
    if member is None:
        raise Http404("No such annotator in this project.")
    # Keyset pagination on the id, newest first: no COUNT, flat cost per page.
    before = request.GET.get("before", "")
    annotations = (
        Annotation.objects.filter(item__project=project, annotator_id=user_id)
        .select_related("item__transcript")
        .only(
            "pk",
            "values",
            "created_at",
            "seconds_spent",
            "item__transcript__external_id",
        )
        .order_by("-pk")
    )
    if before.isdigit():
        annotations = annotations.filter(pk__lt=int(before))
    page = list(annotations[: PAGE + 1])
    fields = project.label_set_version.schema.fields
    ctx = {
        "project": project,
        "member": member,
        "fields": fields,
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
    queue = adjudication_queue(project, reviewer_id=request.user.pk)
    ctx = {
        "project": project,
        "items": list(queue.select_related("transcript", "gold")[:PAGE]),
        # Counted, but capped: at most QUEUE_LEFT_CAP rows are read.
        "waiting": queue.order_by()[:QUEUE_LEFT_CAP].count(),
        "cap": QUEUE_LEFT_CAP,
    }
    return render(request, "annotate/review/adjudication.html", ctx)


@require_http_methods(["GET", "POST"])
@login_required
def adjudicate(
    request: AuthenticatedHtmxRequest, project_id: int, item_id: int
) -> HttpResponse:
    """One item side by side with its labels; POST records the decision and
    brings the next item of the queue (htmx) or redirects to it."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    access_review_item(request.user, project, item_id)
    review = review_item(project=project, item_id=item_id)
    if review is None:
        raise Http404("No such item in this project.")
    form_class = label_form_for(project.label_set_version)
    reason = request.POST.get("reason", "")
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                decision_record(
                    item=review.item,
                    reviewer=request.user,
                    values=form.cleaned_data,
                    reason=reason,
                    now=timezone.now(),
                )
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                return _next_for_review(request, project)
    else:
        form = form_class(initial=_gold_initial(review.gold))
    ctx = _review_context(
        project, review, form, reason=reason, message="", reviewer_id=request.user.pk
    )
    return _review_render(request, ctx)


def _gold_initial(gold: dict[str, Any]) -> dict[str, object]:
    """The form prefilled with the gold so far (the majority, or the last decision)."""
    return {k: v["value"] for k, v in gold.items() if v.get("value") is not None}


def _next_for_review(
    request: AuthenticatedHtmxRequest, project: Project
) -> HttpResponse:
    following = (
        adjudication_queue(project, reviewer_id=request.user.pk).only("pk").first()
    )
    if not request.htmx:  # no-JS: PRG to the next item, or the queue when done
        if following is None:
            return redirect("annotate:adjudication", project_id=project.pk)
        return redirect(
            "annotate:adjudicate", project_id=project.pk, item_id=following.pk
        )
    review = review_item(project=project, item_id=following.pk) if following else None
    form = (
        label_form_for(project.label_set_version)(initial=_gold_initial(review.gold))
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
        "waiting": adjudication_queue(project, reviewer_id=reviewer_id)
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
