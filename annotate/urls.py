from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotate import api
from annotate.views import annotator, assignments, care, home, manager, review

annotate_patterns = [
    path("", home.home, name="home"),
    path("projects/<int:project_id>/", home.project_detail, name="project"),
    path("projects/<int:project_id>/import/", manager.project_import, name="import"),
    path(
        "projects/<int:project_id>/queue/retrain/",
        manager.queue_retrain,
        name="queue-retrain",
    ),
    path(
        "projects/<int:project_id>/assignments/",
        assignments.assignments,
        name="assignments",
    ),
    path(
        "projects/<int:project_id>/assignments/batches/",
        assignments.batch_new,
        name="batch-new",
    ),
    path(
        "projects/<int:project_id>/assignments/preview/",
        assignments.batch_preview,
        name="batch-preview",
    ),
    path(
        "projects/<int:project_id>/assignments/batches/<int:batch_id>/",
        assignments.batch_detail,
        name="batch",
    ),
    path(
        "projects/<int:project_id>/assignments/move/",
        assignments.allocations_move_view,
        name="allocations-move",
    ),
    path(
        "projects/<int:project_id>/assignments/quotas/<int:user_id>/",
        assignments.quota_set,
        name="quota",
    ),
    path("projects/<int:project_id>/labels/", home.label_set, name="label-set"),
    path("projects/<int:project_id>/label/", annotator.queue, name="queue"),
    path("assignments/<int:assignment_id>/submit/", annotator.submit, name="submit"),
    path("assignments/<int:assignment_id>/skip/", annotator.skip, name="skip"),
    path("annotations/<int:annotation_id>/edit/", annotator.edit, name="edit"),
    path(
        "projects/<int:project_id>/transcripts/",
        review.transcript_list,
        name="transcripts",
    ),
    path(
        "projects/<int:project_id>/transcripts/<int:transcript_id>/",
        review.transcript_detail,
        name="transcript",
    ),
    path(
        "projects/<int:project_id>/transcripts/<int:transcript_id>/flag/",
        care.transcript_flag,
        name="transcript-flag",
    ),
    path("projects/<int:project_id>/flags/", care.flags, name="flags"),
    path("projects/<int:project_id>/agreement/", review.agreement, name="agreement"),
    path(
        "projects/<int:project_id>/annotators/<int:user_id>/",
        review.annotator_annotations,
        name="annotator-annotations",
    ),
    path("projects/<int:project_id>/review/", review.adjudication, name="adjudication"),
    path(
        "projects/<int:project_id>/review/<int:item_id>/",
        review.adjudicate,
        name="adjudicate",
    ),
    path("projects/<int:project_id>/export/", manager.project_export, name="export"),
    path(
        "projects/<int:project_id>/calibration/",
        review.calibration,
        name="calibration",
    ),
    path("jobs/<int:job_id>/", manager.job_detail, name="job"),
    path(
        "jobs/<int:job_id>/download/<slug:part>/",
        manager.job_download,
        name="job-download",
    ),
]

api_patterns = [
    path("projects/", api.ProjectListApi.as_view(), name="api-projects"),
    path(
        "projects/<int:project_id>/", api.ProjectDetailApi.as_view(), name="api-project"
    ),
    path(
        "projects/<int:project_id>/imports/",
        api.ProjectImportApi.as_view(),
        name="api-project-import",
    ),
    path("jobs/<int:job_id>/", api.JobDetailApi.as_view(), name="api-job"),
    path(
        "jobs/<int:job_id>/download/<slug:part>/",
        api.JobDownloadApi.as_view(),
        name="api-job-download",
    ),
    path(
        "projects/<int:project_id>/exports/",
        api.ProjectExportApi.as_view(),
        name="api-project-export",
    ),
    path(
        "projects/<int:project_id>/agreement/",
        api.ProjectAgreementApi.as_view(),
        name="api-agreement",
    ),
    path(
        "projects/<int:project_id>/calibration/",
        api.ProjectCalibrationApi.as_view(),
        name="api-calibration",
    ),
    path(
        "label-sets/<slug:name>/<int:number>/",
        api.LabelSetVersionApi.as_view(),
        name="api-label-set",
    ),
    path(
        "projects/<int:project_id>/claim/",
        api.ProjectClaimApi.as_view(),
        name="api-claim",
    ),
    path(
        "assignments/<int:assignment_id>/annotation/",
        api.AssignmentAnnotationApi.as_view(),
        name="api-annotation",
    ),
    path(
        "assignments/<int:assignment_id>/skip/",
        api.AssignmentSkipApi.as_view(),
        name="api-skip",
    ),
]

urlpatterns = [
    path("", include((annotate_patterns, "annotate"))),
    path("api/", include((api_patterns, "api"))),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz/", home.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
