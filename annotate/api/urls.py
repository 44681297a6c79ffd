"""The API's routes, mounted at /api/ under the namespace "api"."""

from __future__ import annotations

from django.urls import path

from annotate.api import docs, jobs, labelling, labelsets, projects, reports

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
        "projects/<int:project_id>/archive/",
        projects.ProjectArchiveApi.as_view(),
        name="api-project-archive",
    ),
    path(
        "projects/<int:project_id>/unarchive/",
        projects.ProjectUnarchiveApi.as_view(),
        name="api-project-unarchive",
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
]
