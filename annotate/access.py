"""Access checks: the object, or Http404 for outsiders and PermissionDenied for
members whose role is too low. A project's existence never leaks to outsiders."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotate.models import Annotation, Assignment, Job, Membership, Role


def access_project(
    user: AbstractBaseUser | AnonymousUser,
    project_id: int,
    *,
    role: Role = Role.ANNOTATOR,
) -> Membership:
    """The user's active membership of the project, with the project loaded."""
    if user.pk is None:
        raise Http404("No such project.")
    membership: Membership | None = (
        Membership.objects.active()
        .select_related("project", "project__label_set_version__label_set")
        # The schema comes parsed from the process cache (LabelSetVersion.schema).
        .defer("project__label_set_version__schema_data")
        .filter(project_id=project_id, user_id=user.pk)
        .first()
    )
    if membership is None:
        raise Http404("No such project.")
    if not membership.has_role(role):
        raise PermissionDenied(
            f"This needs the {role.label.lower()} role in this project."
        )
    return membership


def access_assignment(
    user: AbstractBaseUser | AnonymousUser, assignment_id: int
) -> tuple[Assignment, Membership]:
    """The user's own claim and their membership; 404 for anyone else's, so
    annotators never learn about each other's work."""
    assignment = (
        Assignment.objects.filter(pk=assignment_id, annotator_id=user.pk)
        .only(
            "pk",
            "item_id",
            "project_id",
            "annotator_id",
            "status",
            "claimed_at",
            "expires_at",
        )
        .first()
    )
    if assignment is None:
        raise Http404("No such assignment.")
    return assignment, access_project(user, assignment.project_id)


def access_annotation(
    user: AbstractBaseUser | AnonymousUser, annotation_id: int
) -> tuple[Annotation, Membership]:
    """The user's own annotation and their membership; 404 for anyone else's."""
    annotation = (
        Annotation.objects.filter(pk=annotation_id, annotator_id=user.pk)
        .select_related("item", "label_set_version")
        .first()
    )
    if annotation is None:
        raise Http404("No such annotation.")
    return annotation, access_project(user, annotation.item.project_id)


def access_job(
    user: AbstractBaseUser | AnonymousUser, job_id: int, *, role: Role = Role.MANAGER
) -> Job:
    """A job of a project the user has `role` in; the same 404/403 rules."""
    job = Job.objects.filter(pk=job_id).only("project_id").first()
    if job is None:
        raise Http404("No such job.")
    membership = access_project(user, job.project_id, role=role)
    job = Job.objects.get(pk=job_id)
    job.project = membership.project
    return job
