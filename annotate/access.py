"""Access checks: the object, or Http404 for outsiders and PermissionDenied for
members whose role is too low. A project's existence never leaks to outsiders."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from annotate import rawsql
from annotate.models import (
    Annotation,
    ApiToken,
    Assignment,
    Item,
    Job,
    JobKind,
    Membership,
    Project,
    Role,
)
from annotate.queries import label_sets_visible_to, manages_projects, seen_by
from labelsets.models import LabelSet


def _is_id(value: int) -> bool:
    """Whether `value` fits a primary key: the raw SQL below gets no ORM range
    check, and a larger number from a URL would crash the query (SQLite's
    OverflowError, PostgreSQL's out-of-range error) instead of being a 404."""
    low, high = connection.ops.integer_field_range("BigAutoField")
    return bool(low <= value <= high)


def access_project(
    user: AbstractBaseUser | AnonymousUser,
    project_id: int,
    *,
    role: Role = Role.ANNOTATOR,
) -> Membership:
    """The user's active membership of the project, with the project loaded."""
    if user.pk is None or not _is_id(project_id):
        raise Http404("No such project.")
    with rawsql.prepared_cursor() as cursor:
        cursor.execute(rawsql.MEMBERSHIP_SQL, [project_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such project.")
    membership = rawsql.membership_from(row, 0)
    if not membership.has_role(role):
        raise PermissionDenied(
            f"This needs the {role.label.lower()} role in this project."
        )
    return membership


def access_assignment(
    user: AbstractBaseUser | AnonymousUser, assignment_id: int
) -> tuple[Assignment, Membership]:
    """The user's own claim and their membership; 404 for anyone else's, so
    annotators never learn about each other's work. The claim's project is
    the membership's, loaded."""
    if user.pk is None or not _is_id(assignment_id):
        raise Http404("No such assignment.")
    with rawsql.prepared_cursor() as cursor:
        cursor.execute(rawsql.ASSIGNMENT_SQL, [assignment_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such assignment.")
    assignment = rawsql.ASSIGNMENT.load(row)
    membership = rawsql.membership_from(row, rawsql.ASSIGNMENT.width)
    assignment.project = membership.project
    return assignment, membership


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
    user: AbstractBaseUser | AnonymousUser, job_id: int, *, role: Role | None = None
) -> Job:
    """A job of a project the user has `role` in; the same 404/403 rules.

    By default imports are for managers, agreement and export jobs for
    reviewers too, as the pages that start them are.
    """
    job = Job.objects.filter(pk=job_id).only("project_id", "kind").first()
    if job is None:
        raise Http404("No such job.")
    if role is None:
        role = Role.MANAGER if job.kind == JobKind.IMPORT else Role.REVIEWER
    membership = access_project(user, job.project_id, role=role)
    job = Job.objects.get(pk=job_id)
    job.project = membership.project
    return job


def job_start_role(kind: str) -> Role:
    """The role that starts a job of this kind, and so may run it again:
    imports and the queue's retrains and rescores are the managers', the
    reports and exports the reviewers' too."""
    if kind in {JobKind.IMPORT, JobKind.RETRAIN, JobKind.RESCORE}:
        return Role.MANAGER
    return Role.REVIEWER


def access_job_retry(user: AbstractBaseUser | AnonymousUser, job_id: int) -> Job:
    """A job the user may run again: the role that starts its kind (job_start_role)."""
    job = Job.objects.filter(pk=job_id).only("kind").first()
    if job is None:
        raise Http404("No such job.")
    return access_job(user, job_id, role=job_start_role(job.kind))


def access_review_item(
    user: AbstractBaseUser | AnonymousUser, project: Project, item_id: int
) -> None:
    """Refuse the review of an item the user labelled or holds a live claim
    on (PermissionDenied, saying why): its other labels and gold would show
    before their own label is in, and labelling is blind for every role."""
    if (
        user.pk is not None
        and Item.objects.filter(project=project, pk=item_id)
        .filter(seen_by(user.pk))
        .exists()
    ):
        raise PermissionDenied(
            "You labelled this item or hold a claim on it, so its review is for "
            "someone else: nobody sees the other labels of an item they label."
        )


def access_member(
    user: AbstractBaseUser | AnonymousUser, project_id: int, member_id: int
) -> tuple[Membership, Membership]:
    """(the manager's membership, the member's), the member by user id,
    active or not; 404 for anyone who is not a member, and for the caller
    the rules of access_project with the manager role."""
    manager = access_project(user, project_id, role=Role.MANAGER)
    member = (
        Membership.objects.filter(project_id=project_id, user_id=member_id)
        .select_related("user")
        .first()
    )
    if member is None:
        raise Http404("No such member.")
    return manager, member


def access_api_token(user: AbstractBaseUser | AnonymousUser, token_id: int) -> ApiToken:
    """One of the user's own API tokens; 404 for anyone else's."""
    token = (
        ApiToken.objects.filter(pk=token_id, user_id=user.pk).first()
        if user.pk is not None
        else None
    )
    if token is None:
        raise Http404("No such token.")
    return token


def access_workspace(user: AbstractBaseUser | AnonymousUser) -> None:
    """Refuse (PermissionDenied, saying who may) anyone but staff and project
    managers: creating projects and uploading label sets are theirs."""
    if not isinstance(user, User) or not manages_projects(user):
        raise PermissionDenied(
            "Creating projects and uploading label sets is for project managers "
            "and staff."
        )


def access_label_set(user: AbstractBaseUser | AnonymousUser, name: str) -> LabelSet:
    """A label set the user may see (queries.label_sets_visible_to), for the
    managers' pages: 404 when they may not see it, so its existence does not
    leak; 403 when they see it (through a project) but manage nothing."""
    if not isinstance(user, User):
        raise Http404("No such label set.")
    label_set = label_sets_visible_to(user).filter(name=name).first()
    if label_set is None:
        raise Http404("No such label set.")
    access_workspace(user)
    return label_set
