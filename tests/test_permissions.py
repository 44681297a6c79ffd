"""The permission matrix: every route of the URL conf, for every persona and
method, gets the answer the access rules promise.

The rules (annotate/access.py): an outsider, a former (deactivated) member and
staff who are not members get 404 from a project's pages, so a project's
existence never leaks; a member whose role is too low gets 403; someone else's
claim, label or token is a 404 even to the project's manager; anonymous users
are sent to the login page, or get the API's 401 JSON error body. Staff may
create projects and see every label set, nothing more.

ROUTES holds one entry per URL name: how to build its kwargs from the world,
and the expected answer per persona for each method it accepts (any other
method is a 405). A route added to the URL conf without an entry here fails
test_every_route_has_an_entry, naming it; so does an entry left for a route
that is gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import (
    ROLE_RANK,
    Batch,
    Job,
    JobKind,
    JobStatus,
    Membership,
    QueueModel,
    Role,
    SavedSearch,
    Transcript,
)
from annotate.services.agreement import agreement_request_parse
from annotate.services.exports import export_paths
from annotate.services.jobs import (
    agreement_job_create,
    calibration_job_create,
    job_run,
)
from annotate.services.tokens import api_token_create
from annotate.stats.calibration import DEFAULT_BREAKDOWN
from tests.factories import ProjectFactory, disputed_items, items_bulk
from tests.labelling import claim, label

pytestmark = pytest.mark.django_db

ALLOWED = "allowed"  # not 401/403/404/405 and not 5xx: the request got past the checks
LOGIN = "login"  # a redirect to the login page

PERSONAS = (
    "anonymous",
    "outsider",  # logged in, in no project
    "former",  # an annotator of the project, deactivated
    "annotator",  # holds the claim, the label and the token of the world
    "other_annotator",
    "reviewer",
    "manager",
    "staff",  # is_staff, in no project
)
MEMBERS = {
    "annotator": Role.ANNOTATOR,
    "other_annotator": Role.ANNOTATOR,
    "reviewer": Role.REVIEWER,
    "manager": Role.MANAGER,
}

Expect = dict[str, int | str]


def _project(role: Role, *, anonymous: int | str) -> Expect:
    return {
        "anonymous": anonymous,
        "outsider": 404,
        "former": 404,
        "staff": 404,
        **{
            p: ALLOWED if ROLE_RANK[has] >= ROLE_RANK[role] else 403
            for p, has in MEMBERS.items()
        },
    }


def page(role: Role) -> Expect:
    """A project's page for `role` and up."""
    return _project(role, anonymous=LOGIN)


def api(role: Role) -> Expect:
    """A project's API operation for `role` and up."""
    return _project(role, anonymous=401)


def everyone(answer: int | str) -> Expect:
    return dict.fromkeys(PERSONAS, answer)


def _owner(*, anonymous: int | str) -> Expect:
    # The annotator's own claim, label or token: anyone else's is a 404.
    return everyone(404) | {"anonymous": anonymous, "annotator": ALLOWED}


OWNER_PAGE = _owner(anonymous=LOGIN)
OWNER_API = _owner(anonymous=401)
# Any logged-in user: their own list, profile or password.
SIGNED_IN = everyone(ALLOWED) | {"anonymous": LOGIN}
# Creating projects, uploading label sets: managers (of any project) and staff.
WORKSPACE = everyone(403) | {
    "anonymous": LOGIN,
    "manager": ALLOWED,
    "staff": ALLOWED,
}
PUBLIC = everyone(ALLOWED)


@dataclass(frozen=True)
class World:
    """Ids only: a test's requests may change the rows, never these."""

    project: int
    users: dict[str, int]  # persona -> user id (anonymous has none)
    assignment: int  # the annotator's live claim
    annotation: int  # the annotator's label on another item
    item: int  # an item with gold and no label of the personas: reviewable
    batch: int
    search: int  # a saved search of the transcript browser
    job: int  # a finished export, its files written
    token: int  # the annotator's API token
    keys: dict[str, str]  # persona -> API key
    sessions: dict[str, str]  # persona -> a logged-in session's cookie
    other_project: int  # managed by the manager, the reviewer reviews it
    label_set: str = "refusal-v1"


@dataclass(frozen=True)
class Route:
    kwargs: Callable[[World], dict[str, Any]]
    # Method -> persona -> expected; methods not listed answer 405.
    methods: dict[str, Expect] = field(default_factory=dict)


def project_kwargs(w: World) -> dict[str, Any]:
    return {"project_id": w.project}


def no_kwargs(w: World) -> dict[str, Any]:
    return {}


def member_kwargs(w: World) -> dict[str, Any]:
    return {"project_id": w.project, "user_id": w.users["annotator"]}


def item_kwargs(w: World) -> dict[str, Any]:
    return {"project_id": w.project, "item_id": w.item}


def transcript_kwargs(w: World) -> dict[str, Any]:
    return {"project_id": w.project, "transcript_id": w.item}


A, R, M = Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER

ROUTES: dict[str, Route] = {
    # Everyone's own pages.
    "healthz": Route(no_kwargs, {"GET": PUBLIC}),
    "readyz": Route(no_kwargs, {"GET": PUBLIC}),
    "annotate:home": Route(no_kwargs, {"GET": SIGNED_IN}),
    "annotate:archived": Route(no_kwargs, {"GET": SIGNED_IN}),
    "annotate:profile": Route(no_kwargs, {"GET": SIGNED_IN}),
    "annotate:token-create": Route(no_kwargs, {"POST": SIGNED_IN}),
    "annotate:token-revoke": Route(
        lambda w: {"token_id": w.token}, {"POST": OWNER_PAGE}
    ),
    "annotate:password-change": Route(no_kwargs, {"GET": SIGNED_IN, "POST": SIGNED_IN}),
    # The workspace: new projects and label sets.
    "annotate:project-new": Route(no_kwargs, {"GET": WORKSPACE, "POST": WORKSPACE}),
    "annotate:guidelines-preview": Route(no_kwargs, {"POST": WORKSPACE}),
    "annotate:labelsets": Route(no_kwargs, {"GET": WORKSPACE}),
    "annotate:labelset-upload": Route(no_kwargs, {"GET": WORKSPACE, "POST": WORKSPACE}),
    "annotate:labelset-try": Route(no_kwargs, {"POST": WORKSPACE}),
    "annotate:labelset-save": Route(no_kwargs, {"POST": WORKSPACE}),
    # A label set a member sees through their project: 403 to non-managers,
    # 404 to whoever does not see it at all.
    "annotate:labelset": Route(
        lambda w: {"name": w.label_set},
        {"GET": WORKSPACE | {"outsider": 404, "former": 404}},
    ),
    # A project, for every member.
    "annotate:project": Route(project_kwargs, {"GET": page(A)}),
    "annotate:label-set": Route(project_kwargs, {"GET": page(A)}),
    "annotate:queue": Route(project_kwargs, {"GET": page(A)}),
    "annotate:my-labels": Route(project_kwargs, {"GET": page(A)}),
    # The annotator's own claim and label.
    "annotate:submit": Route(
        lambda w: {"assignment_id": w.assignment}, {"POST": OWNER_PAGE}
    ),
    "annotate:skip": Route(
        lambda w: {"assignment_id": w.assignment}, {"POST": OWNER_PAGE}
    ),
    "annotate:edit": Route(
        lambda w: {"annotation_id": w.annotation}, {"POST": OWNER_PAGE}
    ),
    # Reviewers' pages.
    "annotate:transcripts": Route(project_kwargs, {"GET": page(R)}),
    "annotate:transcript-by-id": Route(
        lambda w: {"project_id": w.project, "external_id": "ext-1"}, {"GET": page(R)}
    ),
    "annotate:transcript": Route(transcript_kwargs, {"GET": page(R)}),
    "annotate:saved-search-new": Route(project_kwargs, {"POST": page(R)}),
    "annotate:saved-search-delete": Route(
        lambda w: {"project_id": w.project, "search_id": w.search}, {"POST": page(R)}
    ),
    "annotate:agreement": Route(project_kwargs, {"GET": page(R), "POST": page(R)}),
    "annotate:annotators": Route(project_kwargs, {"GET": page(R)}),
    "annotate:annotator-annotations": Route(member_kwargs, {"GET": page(R)}),
    "annotate:adjudication": Route(project_kwargs, {"GET": page(R)}),
    "annotate:review-next": Route(project_kwargs, {"GET": page(R)}),
    "annotate:adjudicate": Route(item_kwargs, {"GET": page(R), "POST": page(R)}),
    "annotate:export": Route(project_kwargs, {"GET": page(R), "POST": page(R)}),
    "annotate:calibration": Route(project_kwargs, {"GET": page(R), "POST": page(R)}),
    # An export job: the reviewers' (an import job would be the managers').
    "annotate:job": Route(lambda w: {"job_id": w.job}, {"GET": page(R)}),
    # A succeeded export: refused as not failed, once past the role check.
    "annotate:job-retry": Route(lambda w: {"job_id": w.job}, {"POST": page(R)}),
    "annotate:job-download": Route(
        lambda w: {"job_id": w.job, "part": "data"}, {"GET": page(R)}
    ),
    # Managers' pages.
    "annotate:project-settings": Route(
        project_kwargs, {"GET": page(M), "POST": page(M)}
    ),
    "annotate:project-archive": Route(project_kwargs, {"POST": page(M)}),
    "annotate:project-unarchive": Route(project_kwargs, {"POST": page(M)}),
    "annotate:import": Route(project_kwargs, {"GET": page(M), "POST": page(M)}),
    "annotate:queue-retrain": Route(project_kwargs, {"POST": page(M)}),
    "annotate:assignments": Route(project_kwargs, {"GET": page(M)}),
    "annotate:batch-new": Route(project_kwargs, {"POST": page(M)}),
    "annotate:batch-preview": Route(project_kwargs, {"GET": page(M)}),
    "annotate:batch": Route(
        lambda w: {"project_id": w.project, "batch_id": w.batch}, {"GET": page(M)}
    ),
    "annotate:allocations-move": Route(project_kwargs, {"POST": page(M)}),
    "annotate:quota": Route(member_kwargs, {"POST": page(M)}),
    "annotate:members": Route(project_kwargs, {"GET": page(M), "POST": page(M)}),
    "annotate:member-role": Route(member_kwargs, {"POST": page(M)}),
    "annotate:member-deactivate": Route(member_kwargs, {"POST": page(M)}),
    "annotate:member-reactivate": Route(member_kwargs, {"POST": page(M)}),
    "annotate:member-tokens-revoke": Route(member_kwargs, {"POST": page(M)}),
    "annotate:quality": Route(project_kwargs, {"GET": page(M)}),
    "annotate:quality-settings": Route(project_kwargs, {"POST": page(M)}),
    "annotate:question-set": Route(item_kwargs, {"POST": page(M)}),
    "annotate:question-remove": Route(item_kwargs, {"POST": page(M)}),
    "annotate:quality-unblock": Route(member_kwargs, {"POST": page(M)}),
    "annotate:transcript-flag": Route(transcript_kwargs, {"POST": page(M)}),
    "annotate:flags": Route(project_kwargs, {"GET": page(M)}),
    "annotate:history": Route(project_kwargs, {"GET": page(M)}),
    # The API.
    # The schema and its docs describe the API and hold no data: public.
    **{
        f"api:{name}": Route(
            no_kwargs,
            {"GET": PUBLIC}
            | {m: everyone(405) for m in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")},
        )
        for name in ("schema", "docs", "redoc")
    },
    "api:api-projects": Route(
        no_kwargs,
        {
            "GET": everyone(ALLOWED) | {"anonymous": 401},
            "POST": WORKSPACE | {"anonymous": 401},
        },
    ),
    "api:api-project": Route(project_kwargs, {"GET": api(A), "PATCH": api(M)}),
    "api:api-members": Route(project_kwargs, {"GET": api(M), "POST": api(M)}),
    "api:api-member": Route(
        lambda w: {"project_id": w.project, "member_id": w.users["annotator"]},
        {"PATCH": api(M)},
    ),
    "api:api-transcripts": Route(project_kwargs, {"GET": api(R)}),
    "api:api-transcript": Route(transcript_kwargs, {"GET": api(R)}),
    "api:api-project-archive": Route(project_kwargs, {"POST": api(M)}),
    "api:api-project-unarchive": Route(project_kwargs, {"POST": api(M)}),
    "api:api-claim": Route(project_kwargs, {"POST": api(A)}),
    "api:api-annotation": Route(
        lambda w: {"assignment_id": w.assignment}, {"POST": OWNER_API}
    ),
    "api:api-skip": Route(
        lambda w: {"assignment_id": w.assignment}, {"POST": OWNER_API}
    ),
    "api:api-project-export": Route(project_kwargs, {"POST": api(R)}),
    "api:api-audit": Route(project_kwargs, {"GET": api(M)}),
    # The world has both reports computed, so a GET answers them (not a 404).
    "api:api-agreement": Route(project_kwargs, {"GET": api(R), "POST": api(R)}),
    "api:api-calibration": Route(project_kwargs, {"GET": api(R), "POST": api(R)}),
    "api:api-job": Route(lambda w: {"job_id": w.job}, {"GET": api(R)}),
    "api:api-job-retry": Route(lambda w: {"job_id": w.job}, {"POST": api(R)}),
    "api:api-job-download": Route(
        lambda w: {"job_id": w.job, "part": "data"}, {"GET": api(R)}
    ),
    "api:api-project-import": Route(project_kwargs, {"POST": api(M)}),
    # Labels: everyone's own (the list filters by role), a correction the owner's.
    "api:api-annotations": Route(project_kwargs, {"GET": api(A)}),
    "api:api-annotation-correction": Route(
        lambda w: {"annotation_id": w.annotation}, {"POST": OWNER_API}
    ),
    # Decisions and the review queue: reviewers and managers.
    "api:api-decisions": Route(project_kwargs, {"GET": api(R)}),
    "api:api-decision": Route(item_kwargs, {"POST": api(R)}),
    "api:api-item-decisions": Route(item_kwargs, {"GET": api(R)}),
    "api:api-review-claim": Route(project_kwargs, {"POST": api(R)}),
    # Directed work: managers.
    "api:api-batches": Route(project_kwargs, {"GET": api(M), "POST": api(M)}),
    "api:api-batch": Route(
        lambda w: {"project_id": w.project, "batch_id": w.batch}, {"GET": api(M)}
    ),
    "api:api-allocations-move": Route(project_kwargs, {"POST": api(M)}),
    "api:api-member-quota": Route(member_kwargs, {"PUT": api(M)}),
    "api:api-judgements": Route(project_kwargs, {"POST": api(M)}),
    # The queue's model: shown to reviewers, retrained by managers.
    "api:api-queue-model": Route(project_kwargs, {"GET": api(R)}),
    "api:api-queue-model-history": Route(project_kwargs, {"GET": api(R)}),
    "api:api-queue-model-retrain": Route(project_kwargs, {"POST": api(M)}),
    "api:api-label-sets": Route(
        no_kwargs, {"GET": everyone(ALLOWED) | {"anonymous": 401}}
    ),
    "api:api-label-set-detail": Route(
        lambda w: {"name": w.label_set},
        {"GET": everyone(ALLOWED) | {"anonymous": 401, "outsider": 404, "former": 404}},
    ),
    # Uploading: managers (of any project) and staff, as the upload page.
    "api:api-label-set-versions": Route(
        lambda w: {"name": w.label_set}, {"POST": WORKSPACE | {"anonymous": 401}}
    ),
    "api:api-annotations-import": Route(project_kwargs, {"POST": api(M)}),
    "api:api-decisions-import": Route(project_kwargs, {"POST": api(R)}),
    # The schema of a label set the user sees: any member's, every one for staff.
    "api:api-label-set": Route(
        lambda w: {"name": w.label_set, "number": 1},
        {"GET": everyone(ALLOWED) | {"anonymous": 401, "outsider": 404, "former": 404}},
    ),
}

# Not the project's access rules: Django's own views, public by design
# (logging in, logging out, an invitation's set-your-password link), and
# the admin, which has its own staff check.
EXEMPT = {"login", "logout", "invitation"}
EXEMPT_NAMESPACES = {"admin"}

PAGE_METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def url_names(
    patterns: list[URLPattern | URLResolver] | None = None, prefix: str = ""
) -> Iterator[tuple[str, str]]:
    """(namespaced name, pattern) for every named route of the URL conf."""
    resolver = get_resolver()
    for entry in patterns if patterns is not None else resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in EXEMPT_NAMESPACES:
                continue
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from url_names(entry.url_patterns, namespace)
        elif entry.name:
            yield f"{prefix}{entry.name}", str(entry.pattern)


def test_every_route_has_an_entry():
    routes = dict(url_names())
    known = set(ROUTES) | EXEMPT
    missing = {name: p for name, p in routes.items() if name not in known}
    gone = sorted(known - set(routes))
    assert not missing, f"routes without an entry in ROUTES: {missing}"
    assert not gone, f"entries in ROUTES for routes that are gone: {gone}"


def is_api(name: str) -> bool:
    return name.startswith("api:")


def default_auth(name: str) -> str:
    return "token" if is_api(name) else "session"


def expected(name: str, method: str, persona: str) -> int | str:
    by_persona = ROUTES[name].methods.get(method)
    if by_persona is not None:
        return by_persona[persona]
    # Authentication comes before the method in DRF; a page's require_GET /
    # require_POST sits outside login_required.
    if is_api(name) and persona == "anonymous":
        return 401
    # DRF answers OPTIONS from the view's class alone (its name and the
    # formats it takes), the same for every id: it tells nobody what exists.
    if is_api(name) and method == "OPTIONS":
        return ALLOWED
    return 405


def auths(name: str, method: str, persona: str) -> tuple[str, ...]:
    if persona == "anonymous":
        return ("none",)
    if not is_api(name):
        return ("session",)
    # Session authentication too, as the pages' scripts would use it.
    return ("token", "session") if method in PAGE_METHODS else ("token",)


def cases() -> Iterator[Any]:
    for name in ROUTES:
        for method in API_METHODS if is_api(name) else PAGE_METHODS:
            for persona in PERSONAS:
                for auth in auths(name, method, persona):
                    how = f"-{auth}" if is_api(name) and auth != "none" else ""
                    yield pytest.param(
                        name,
                        method,
                        persona,
                        auth,
                        id=f"{name}-{method}-{persona}{how}",
                    )


@pytest.fixture(scope="module")
def world_built(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[World]:
    """The world, built once for the module inside a transaction that is
    rolled back at its end (Django's setUpTestData, for pytest). Each test
    runs in a savepoint of it (the `db` fixture's atomic, nested), so a POST
    that changes the world is undone before the next test: every test sees
    the world as built, at the cost of building it once instead of 1,500
    times."""
    media = tmp_path_factory.mktemp("media")
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=media),
        transaction.atomic(),
    ):
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(world_built: World, db: None) -> World:
    return world_built


def build_world() -> World:
    """A project with a member of each role, the annotator's claim, label and
    token, reviewable gold, a batch and a finished export."""
    now = timezone.now()
    project = ProjectFactory(overlap=2)
    names = {
        "outsider": "charlie",
        "former": "fred",
        "annotator": "alice",
        "other_annotator": "bob",
        "reviewer": "rita",
        "manager": "mona",
        "staff": "sam",
    }
    User.objects.bulk_create(
        User(username=u, password="!", is_staff=p == "staff") for p, u in names.items()
    )
    users = {p: User.objects.get(username=u) for p, u in names.items()}
    roles = {"former": Role.ANNOTATOR, **MEMBERS}
    Membership.objects.bulk_create(
        Membership(
            project=project,
            user=users[p],
            role=role,
            is_active=p != "former",
            deactivated_at=now if p == "former" else None,
        )
        for p, role in roles.items()
    )
    items_bulk(project, 3)
    annotation = label(users["annotator"], project, "policy")
    assignment = claim(users["annotator"], project)
    assert assignment is not None
    (gold_item,) = disputed_items(project, 1)
    Transcript.objects.filter(pk=gold_item.pk).update(external_id="ext-1")
    batch = Batch.objects.create(
        project=project, name="b1", created_by=users["manager"], created_at=now
    )
    search = SavedSearch.objects.create(
        project=project,
        name="s1",
        source_model="m",
        created_by=users["manager"],
        created_at=now,
    )
    job = Job.objects.create(
        project=project,
        kind=JobKind.EXPORT,
        status=JobStatus.SUCCEEDED,
        params={"fmt": "jsonl"},
        result={"rows": 0, "format": "jsonl", "by_split": {}},
        created_at=now,
        finished_at=now,
    )
    for path in export_paths(job):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    # The queue's model, so its page answers with it rather than a 404.
    QueueModel.objects.create(
        project=project, version=1, created_at=now, heuristic=True, strategy="random"
    )
    # The reports a GET without parameters asks for, computed (the on-commit
    # queueing never fires inside this transaction, so run them here).
    for computed in (
        agreement_job_create(
            project=project,
            params=agreement_request_parse(project=project, data={}).params,
            created_by=None,
            now=now,
        ),
        calibration_job_create(
            project=project, breakdown=DEFAULT_BREAKDOWN, created_by=None, now=now
        ),
    ):
        assert job_run(job_id=computed.pk, now=timezone.now).status == "succeeded"
    other = ProjectFactory()
    Membership.objects.bulk_create(
        Membership(project=other, user=users[p], role=users_role)
        for p, users_role in (("manager", Role.MANAGER), ("reviewer", Role.REVIEWER))
    )
    keys, sessions = {}, {}
    for persona, user in users.items():
        made, keys[persona] = api_token_create(user=user, name="matrix", now=now)
        if persona == "annotator":
            token = made.pk
        # Logged in once: force_login per test would write a session each time.
        client = Client()
        client.force_login(user)
        sessions[persona] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return World(
        project=project.pk,
        users={p: u.pk for p, u in users.items()},
        assignment=assignment.pk,
        annotation=annotation.pk,
        item=gold_item.pk,
        batch=batch.pk,
        search=search.pk,
        job=job.pk,
        token=token,
        keys=keys,
        sessions=sessions,
        other_project=other.pk,
    )


def request(
    world: World,
    name: str,
    method: str,
    persona: str,
    auth: str,
    kwargs: dict[str, Any],
) -> Any:
    url = reverse(name, kwargs=kwargs)
    client: Client = APIClient() if is_api(name) else Client()
    if persona != "anonymous":
        if auth == "token":
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[persona]}")  # type: ignore[attr-defined]
        else:
            client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[persona]
    if is_api(name):
        # An empty JSON object: the access check comes before the input's.
        return getattr(client, method.lower())(url, {}, format="json")
    return getattr(client, method.lower())(url)


def assert_api_error_body(r: Any, where: str) -> None:
    """The documented error body, as JSON, never Django's HTML page."""
    assert r["Content-Type"] == "application/json", where
    assert set(json.loads(r.content)) == {"detail", "errors"}, where


@pytest.mark.parametrize(("name", "method", "persona", "auth"), list(cases()))
def test_access(world, name, method, persona, auth):
    r = request(world, name, method, persona, auth, ROUTES[name].kwargs(world))
    want = expected(name, method, persona)
    got = r.status_code
    where = f"{method} {name} as {persona}: {got}"

    assert got < 500, where
    to_login = got == 302 and r["Location"].startswith(f"{reverse('login')}?next=")
    if want == ALLOWED:
        assert got not in {401, 403, 404, 405}, f"{where}, expected it allowed"
        assert not to_login, f"{where}, sent to log in, expected it allowed"
    elif want == LOGIN:
        assert to_login, f"{where}, expected a redirect to the login page"
    else:
        assert got == want, f"{where}, expected {want}"
    if is_api(name) and got >= 400:
        assert_api_error_body(r, where)


# The personas to try an object that is not there with: the first allowed.
STRONGEST = ("manager", "annotator", "reviewer", "staff")


def strongest(name: str) -> tuple[str, str] | None:
    """(method, persona): a method of the route and the first persona of
    STRONGEST it allows; None for a route nobody but the public may use."""
    for method, by_persona in ROUTES[name].methods.items():
        for persona in STRONGEST:
            if by_persona[persona] == ALLOWED:
                return method, persona
    return None


# A world of placeholder ids, to read each route's kwargs' names at collection.
PLACEHOLDER = World(
    project=1,
    users=dict.fromkeys(PERSONAS, 1),
    assignment=1,
    annotation=1,
    item=1,
    batch=1,
    search=1,
    job=1,
    token=1,
    keys={},
    sessions={},
    other_project=2,
)


def kwarg_names(name: str) -> set[str]:
    return set(ROUTES[name].kwargs(PLACEHOLDER))


# Routes whose URL names something the request may create: a name that
# names nothing yet is not a 404 there (a new label set's first version).
CREATED_BY_NAME = {"api:api-label-set-versions"}


def object_routes() -> list[str]:
    return [
        n
        for n in ROUTES
        if kwarg_names(n) and strongest(n) and n not in CREATED_BY_NAME
    ]


@pytest.mark.parametrize("name", object_routes())
def test_a_missing_object_is_a_404(world, name):
    """Ids that name nothing: a 404 (JSON from the API), never a 500."""
    method, persona = strongest(name) or ("", "")
    kwargs = {
        k: 10**9 if isinstance(v, int) else "missing"
        for k, v in ROUTES[name].kwargs(world).items()
    }
    r = request(world, name, method, persona, default_auth(name), kwargs)
    where = f"{method} {name} {kwargs} as {persona}: {r.status_code}"

    assert r.status_code == 404, where
    if is_api(name):
        assert_api_error_body(r, where)


def cross_project_routes() -> list[str]:
    """Routes naming a project and something in it (a member, an item...)."""
    return [n for n in object_routes() if {"project_id"} < kwarg_names(n)]


@pytest.mark.parametrize("name", cross_project_routes())
def test_another_projects_object_is_a_404(world, name):
    """A project's object under the URL of another project the user manages
    or reviews: a 404, as if it were not there (no reaching across projects)."""
    method, persona = strongest(name) or ("", "")
    kwargs = ROUTES[name].kwargs(world) | {"project_id": world.other_project}
    r = request(world, name, method, persona, default_auth(name), kwargs)
    where = f"{method} {name} {kwargs} as {persona}: {r.status_code}"

    assert r.status_code == 404, where


@pytest.mark.parametrize(
    "path",
    [
        "/api/nope/",
        "/api/projects/abc/",  # not an int: no route matches
        "/api/assignments/1/nope/",
    ],
)
@pytest.mark.parametrize("persona", ["anonymous", "annotator"])
def test_an_unknown_api_url_is_a_404_with_the_error_body(world, path, persona):
    client = APIClient()
    if persona != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[persona]}")

    r = client.get(path)

    assert r.status_code == 404
    assert_api_error_body(r, f"GET {path} as {persona}")


def test_an_unknown_page_is_still_the_html_404(world):
    r = Client().get("/nope/")

    assert r.status_code == 404
    assert r["Content-Type"].startswith("text/html")
