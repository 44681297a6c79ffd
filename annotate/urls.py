from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter, reverse_lazy

from annotate.converters import IdConverter
from annotate.views import (
    account,
    annotator,
    assignments,
    care,
    health,
    history,
    home,
    manager,
    members,
    quality,
    review,
)

# Every id in a URL: <id:...>, not <id:...> (see IdConverter).
register_converter(IdConverter, "id")

annotate_patterns = [
    path("", home.home, name="home"),
    path("projects/archived/", home.archived, name="archived"),
    path("projects/new/", manager.project_new, name="project-new"),
    path(
        "projects/guidelines-preview/",
        manager.guidelines_preview,
        name="guidelines-preview",
    ),
    path("projects/<id:project_id>/", home.project_detail, name="project"),
    path(
        "projects/<id:project_id>/settings/",
        manager.project_settings,
        name="project-settings",
    ),
    path(
        "projects/<id:project_id>/archive/",
        manager.project_archive_view,
        name="project-archive",
    ),
    path(
        "projects/<id:project_id>/unarchive/",
        manager.project_unarchive_view,
        name="project-unarchive",
    ),
    path("label-sets/", manager.labelset_list, name="labelsets"),
    path("label-sets/upload/", manager.labelset_upload_view, name="labelset-upload"),
    path("label-sets/upload/check/", manager.labelset_try, name="labelset-try"),
    path("label-sets/upload/save/", manager.labelset_save, name="labelset-save"),
    # versions/: a label set named "upload" must not meet the upload page.
    path("label-sets/<slug:name>/versions/", manager.labelset_detail, name="labelset"),
    path("projects/<id:project_id>/import/", manager.project_import, name="import"),
    path(
        "projects/<id:project_id>/queue/retrain/",
        manager.queue_retrain,
        name="queue-retrain",
    ),
    path(
        "projects/<id:project_id>/assignments/",
        assignments.assignments,
        name="assignments",
    ),
    path(
        "projects/<id:project_id>/assignments/batches/",
        assignments.batch_new,
        name="batch-new",
    ),
    path(
        "projects/<id:project_id>/assignments/preview/",
        assignments.batch_preview,
        name="batch-preview",
    ),
    path(
        "projects/<id:project_id>/assignments/batches/<id:batch_id>/",
        assignments.batch_detail,
        name="batch",
    ),
    path(
        "projects/<id:project_id>/assignments/move/",
        assignments.allocations_move_view,
        name="allocations-move",
    ),
    path(
        "projects/<id:project_id>/assignments/quotas/<id:user_id>/",
        assignments.quota_set,
        name="quota",
    ),
    path("profile/", account.profile, name="profile"),
    path("profile/tokens/", account.token_create, name="token-create"),
    path(
        "profile/tokens/<id:token_id>/revoke/",
        account.token_revoke,
        name="token-revoke",
    ),
    path("profile/password/", account.PasswordChange.as_view(), name="password-change"),
    path("projects/<id:project_id>/members/", members.members, name="members"),
    path(
        "projects/<id:project_id>/members/<id:user_id>/role/",
        members.member_role,
        name="member-role",
    ),
    path(
        "projects/<id:project_id>/members/<id:user_id>/deactivate/",
        members.member_deactivate,
        name="member-deactivate",
    ),
    path(
        "projects/<id:project_id>/members/<id:user_id>/reactivate/",
        members.member_reactivate,
        name="member-reactivate",
    ),
    path(
        "projects/<id:project_id>/members/<id:user_id>/tokens/revoke/",
        members.member_tokens_revoke,
        name="member-tokens-revoke",
    ),
    path("projects/<id:project_id>/quality/", quality.quality, name="quality"),
    path(
        "projects/<id:project_id>/quality/settings/",
        quality.quality_settings,
        name="quality-settings",
    ),
    path(
        "projects/<id:project_id>/quality/questions/<id:item_id>/",
        quality.question_set,
        name="question-set",
    ),
    path(
        "projects/<id:project_id>/quality/questions/<id:item_id>/remove/",
        quality.question_remove,
        name="question-remove",
    ),
    path(
        "projects/<id:project_id>/quality/members/<id:user_id>/unblock/",
        quality.member_unblock,
        name="quality-unblock",
    ),
    path("projects/<id:project_id>/labels/", home.label_set, name="label-set"),
    path("projects/<id:project_id>/label/", annotator.queue, name="queue"),
    path("assignments/<id:assignment_id>/submit/", annotator.submit, name="submit"),
    path("assignments/<id:assignment_id>/skip/", annotator.skip, name="skip"),
    path("annotations/<id:annotation_id>/edit/", annotator.edit, name="edit"),
    path("projects/<id:project_id>/my-labels/", annotator.my_labels, name="my-labels"),
    path(
        "projects/<id:project_id>/transcripts/",
        review.transcript_list,
        name="transcripts",
    ),
    path(
        "projects/<id:project_id>/transcripts/searches/",
        review.saved_search_new,
        name="saved-search-new",
    ),
    path(
        "projects/<id:project_id>/transcripts/searches/<id:search_id>/delete/",
        review.saved_search_delete_view,
        name="saved-search-delete",
    ),
    path(
        "projects/<id:project_id>/transcripts/by-id/<path:external_id>/",
        review.transcript_by_external_id,
        name="transcript-by-id",
    ),
    path(
        "projects/<id:project_id>/transcripts/<id:transcript_id>/",
        review.transcript_detail,
        name="transcript",
    ),
    path(
        "projects/<id:project_id>/transcripts/<id:transcript_id>/flag/",
        care.transcript_flag,
        name="transcript-flag",
    ),
    path("projects/<id:project_id>/flags/", care.flags, name="flags"),
    path("projects/<id:project_id>/history/", history.history, name="history"),
    path("projects/<id:project_id>/agreement/", review.agreement, name="agreement"),
    path("projects/<id:project_id>/annotators/", review.annotators, name="annotators"),
    path(
        "projects/<id:project_id>/annotators/<id:user_id>/",
        review.annotator_annotations,
        name="annotator-annotations",
    ),
    path("projects/<id:project_id>/review/", review.adjudication, name="adjudication"),
    path(
        "projects/<id:project_id>/review/next/",
        review.review_next,
        name="review-next",
    ),
    path(
        "projects/<id:project_id>/review/<id:item_id>/",
        review.adjudicate,
        name="adjudicate",
    ),
    path("projects/<id:project_id>/export/", manager.project_export, name="export"),
    path(
        "projects/<id:project_id>/calibration/",
        review.calibration,
        name="calibration",
    ),
    path("jobs/<id:job_id>/", manager.job_detail, name="job"),
    path("jobs/<id:job_id>/retry/", manager.job_run_again, name="job-retry"),
    path(
        "jobs/<id:job_id>/download/<slug:part>/",
        manager.job_download,
        name="job-download",
    ),
]

urlpatterns = [
    # The API first: its prefix is one match, where trying the pages'
    # hundred patterns first was a sixth of a claim's or a submit's CPU in
    # gunicorn (py-spy, bench/loop.py). No page path starts with api/.
    path("api/", include(("annotate.api.urls", "api"))),
    path("", include((annotate_patterns, "annotate"))),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # A new member's invitation (services.members.membership_add): Django's
    # password reset, which logs them in once the password is set.
    path(
        "invitations/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/invitation.html",
            post_reset_login=True,
            # Named, as login() asks when several backends are configured (axes).
            post_reset_login_backend="annotate.authentication.ModelBackend",
            success_url=reverse_lazy("annotate:home"),
            extra_context={"timeout_days": settings.PASSWORD_RESET_TIMEOUT // 86400},
        ),
        name="invitation",
    ),
    path("healthz/", health.healthz, name="healthz"),
    path("readyz/", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]

handler400 = "annotate.api.errors.bad_request"
handler404 = "annotate.api.errors.not_found"
handler500 = "annotate.api.errors.server_error"
