"""The API's routes, mounted at /api/ under the namespace "api"."""

from __future__ import annotations

from django.urls import path

from annotate.api import (
    assignments,
    decisions,
    docs,
    jobs,
    labelling,
    labels,
    labelsets,
    projects,
    reports,
    review,
)

urlpatterns = [
    # The OpenAPI 3 schema and its docs, public: they describe, they hold no data.
    path("schema/", docs.SchemaApi.as_view(), name="schema"),
    path(
        "docs/",
        docs.SwaggerDocs.as_view(url_name="api:schema"),
        name="docs",
    ),
    path(
        "docs/redoc/",
        docs.RedocDocs.as_view(url_name="api:schema"),
        name="redoc",
    ),
    path("projects/", projects.ProjectListApi.as_view(), name="api-projects"),
    path(
        "projects/<int:project_id>/",
        projects.ProjectDetailApi.as_view(),
        name="api-project",
    ),
    path(
        "projects/<int:project_id>/imports/",
        projects.ProjectImportApi.as_view(),
        name="api-project-import",
    ),
    path("jobs/<int:job_id>/", jobs.JobDetailApi.as_view(), name="api-job"),
    path(
        "jobs/<int:job_id>/download/<slug:part>/",
        jobs.JobDownloadApi.as_view(),
        name="api-job-download",
    ),
    path(
        "projects/<int:project_id>/exports/",
        reports.ProjectExportApi.as_view(),
        name="api-project-export",
    ),
    path(
        "projects/<int:project_id>/agreement/",
        reports.ProjectAgreementApi.as_view(),
        name="api-agreement",
    ),
    path(
        "projects/<int:project_id>/calibration/",
        reports.ProjectCalibrationApi.as_view(),
        name="api-calibration",
    ),
    path(
        "label-sets/<slug:name>/<int:number>/",
        labelsets.LabelSetVersionApi.as_view(),
        name="api-label-set",
    ),
    path(
        "projects/<int:project_id>/claim/",
        labelling.ProjectClaimApi.as_view(),
        name="api-claim",
    ),
    path(
        "assignments/<int:assignment_id>/annotation/",
        labelling.AssignmentAnnotationApi.as_view(),
        name="api-annotation",
    ),
    path(
        "assignments/<int:assignment_id>/skip/",
        labelling.AssignmentSkipApi.as_view(),
        name="api-skip",
    ),
    path(
        "projects/<int:project_id>/annotations/",
        labels.ProjectAnnotationListApi.as_view(),
        name="api-annotations",
    ),
    path(
        "annotations/<int:annotation_id>/correction/",
        labels.AnnotationCorrectionApi.as_view(),
        name="api-annotation-correction",
    ),
    path(
        "projects/<int:project_id>/decisions/",
        decisions.ProjectDecisionListApi.as_view(),
        name="api-decisions",
    ),
    path(
        "projects/<int:project_id>/items/<int:item_id>/decision/",
        decisions.ItemDecisionApi.as_view(),
        name="api-decision",
    ),
    path(
        "projects/<int:project_id>/items/<int:item_id>/decisions/",
        decisions.ItemDecisionHistoryApi.as_view(),
        name="api-item-decisions",
    ),
    path(
        "projects/<int:project_id>/review/claim/",
        review.ProjectReviewClaimApi.as_view(),
        name="api-review-claim",
    ),
    path(
        "projects/<int:project_id>/batches/",
        assignments.ProjectBatchListApi.as_view(),
        name="api-batches",
    ),
    path(
        "projects/<int:project_id>/batches/<int:batch_id>/",
        assignments.ProjectBatchDetailApi.as_view(),
        name="api-batch",
    ),
    path(
        "projects/<int:project_id>/allocations/move/",
        assignments.ProjectAllocationMoveApi.as_view(),
        name="api-allocations-move",
    ),
    path(
        "projects/<int:project_id>/members/<int:user_id>/quota/",
        assignments.MemberQuotaApi.as_view(),
        name="api-member-quota",
    ),
]
