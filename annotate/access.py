"""Access checks: the object, or Http404 for outsiders and PermissionDenied for
members whose role is too low. A project's existence never leaks to outsiders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from annotate.models import (
    Annotation,
    Assignment,
    Job,
    JobKind,
    Membership,
    Project,
    Role,
)
from annotate.rawsql import Columns
from labelsets.models import LabelSet, LabelSetVersion

# One joined query each for the two checks every labelling request makes
# (rawsql.py says why it is not the ORM). The schema is not read: it comes
# parsed from the process cache (LabelSetVersion.schema).
_MEMBERSHIP = Columns(Membership, "m")
_PROJECT = Columns(Project, "p")
_VERSION = Columns(LabelSetVersion, "v", exclude={"schema_data"})
_LABEL_SET = Columns(LabelSet, "ls")
_ASSIGNMENT = Columns(Assignment, "a")
_MEMBER_JOINS = """
    JOIN annotate_project p ON p.id = m.project_id
    JOIN labelsets_labelsetversion v ON v.id = p.label_set_version_id
    JOIN labelsets_labelset ls ON ls.id = v.label_set_id"""
_MEMBERSHIP_SQL = f"""
    SELECT {_MEMBERSHIP.sql}, {_PROJECT.sql}, {_VERSION.sql}, {_LABEL_SET.sql}
    FROM annotate_membership m {_MEMBER_JOINS}
    WHERE m.project_id = %s AND m.user_id = %s AND m.is_active"""  # noqa: S608 - fixed SQL, no input
_ASSIGNMENT_SQL = f"""
    SELECT {_ASSIGNMENT.sql}, {_MEMBERSHIP.sql}, {_PROJECT.sql}, {_VERSION.sql},
        {_LABEL_SET.sql}
    FROM annotate_assignment a
    JOIN annotate_membership m
        ON m.project_id = a.project_id AND m.user_id = a.annotator_id AND m.is_active
    {_MEMBER_JOINS}
    WHERE a.id = %s AND a.annotator_id = %s"""  # noqa: S608 - fixed SQL, no input


def _membership_from(row: Sequence[Any], start: int) -> Membership:
    """The membership at row[start:], with its project, version and label set."""
    membership = _MEMBERSHIP.load(row, start)
    start += _MEMBERSHIP.width
    project = _PROJECT.load(row, start)
    start += _PROJECT.width
    version = _VERSION.load(row, start)
    version.label_set = _LABEL_SET.load(row, start + _VERSION.width)
    project.label_set_version = version
    membership.project = project
    return membership


def access_project(
    user: AbstractBaseUser | AnonymousUser,
    project_id: int,
    *,
    role: Role = Role.ANNOTATOR,
) -> Membership:
    """The user's active membership of the project, with the project loaded."""
    if user.pk is None:
        raise Http404("No such project.")
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERSHIP_SQL, [project_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such project.")
    membership = _membership_from(row, 0)
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
    if user.pk is None:
        raise Http404("No such assignment.")
    with connection.cursor() as cursor:
        cursor.execute(_ASSIGNMENT_SQL, [assignment_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such assignment.")
    assignment = _ASSIGNMENT.load(row)
    membership = _membership_from(row, _ASSIGNMENT.width)
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
