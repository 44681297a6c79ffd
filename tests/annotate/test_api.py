from __future__ import annotations

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import ApiToken, Item, Membership, Transcript
from annotate.services.tokens import api_token_create, api_token_revoke
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import pin_statements, submit_writes

# transaction=True: queued jobs run (eagerly) when the view's transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api():
    return APIClient()


def jsonl_file(n: int = 2, bad_line: int | None = None) -> SimpleUploadedFile:
    lines = [json.dumps({"prompt": f"Q{i}?", "response": f"A{i}."}) for i in range(n)]
    if bad_line:
        lines[bad_line - 1] = "{not json"
    return SimpleUploadedFile("t.jsonl", ("\n".join(lines) + "\n").encode())


def test_projects_lists_only_mine_with_my_role(api, project, reviewer):
    ProjectFactory(name="Hidden")
    api.force_authenticate(reviewer)

    r = api.get("/api/projects/")

    assert r.status_code == 200
    assert [(p["name"], p["role"]) for p in r.json()["results"]] == [
        (project.name, "reviewer")
    ]
    assert r.json()["results"][0]["label_set"] == "refusal-v1"


def token_for(user) -> str:
    return api_token_create(user=user, name="pipeline", now=timezone.now())[1]


def test_token_authentication_works(api, project, annotator):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(annotator)}")

    assert api.get(f"/api/projects/{project.pk}/").json()["id"] == project.pk


def test_a_revoked_token_is_a_401_with_the_error_body(api, project, annotator):
    key = token_for(annotator)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/projects/").status_code == 200
    api_token_revoke(token=ApiToken.objects.get(), by=annotator, now=timezone.now())

    r = api.get("/api/projects/")

    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Token"
    assert r.json() == {"detail": "Invalid token.", "errors": {}}


def test_an_unknown_token_is_a_401(api, project, annotator):
    key = token_for(annotator)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key[:-1]}x")

    r = api.get("/api/projects/")

    assert r.status_code == 401
    assert r.json()["detail"] == "Invalid token."


def test_a_tokens_use_is_recorded_at_most_every_few_minutes(
    api, project, annotator, django_assert_num_queries
):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(annotator)}")

    # The token with its user, the use recorded, the memberships.
    with django_assert_num_queries(3):
        api.get("/api/projects/")
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    # Used again at once: the token with its user, the memberships.
    with django_assert_num_queries(2):
        api.get("/api/projects/")
    assert ApiToken.objects.get().last_used_at == first


def test_anonymous_gets_401_or_403_with_the_error_body(api, project):
    r = api.get("/api/projects/")

    assert r.status_code in (401, 403)
    assert set(r.json()) == {"detail", "errors"}


def test_an_outsider_gets_404(api, project, outsider):
    api.force_authenticate(outsider)

    r = api.get(f"/api/projects/{project.pk}/")

    assert r.status_code == 404
    assert r.json() == {"detail": "Not found.", "errors": {}}


def test_import_runs_as_a_job_and_reports_the_summary(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": jsonl_file(3)},
        format="multipart",
    )

    assert r.status_code == 202
    body = r.json()
    assert r["Location"] == f"/api/jobs/{body['id']}/"
    assert body["status"] == "succeeded"
    assert body["result"]["imported"] == 3
    assert api.get(r["Location"]).json()["status"] == "succeeded"


def test_a_bad_import_fails_the_job_with_the_line(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": jsonl_file(10, bad_line=7)},
        format="multipart",
    )

    body = r.json()
    assert body["status"] == "failed"
    assert "line 7" in body["errors"][0]
    assert not Transcript.objects.exists()


def test_import_without_a_file_is_400_naming_the_field(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(f"/api/projects/{project.pk}/imports/", {}, format="multipart")

    assert r.status_code == 400
    assert "file" in r.json()["errors"]


def test_import_with_an_unknown_format_is_400_naming_the_field(api, project, manager):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/imports/",
        {"file": jsonl_file(), "format": "xml"},
        format="multipart",
    )

    assert r.status_code == 400
    assert "format" in r.json()["errors"]


def test_import_is_403_for_annotators_and_404_for_outsiders(
    api, project, annotator, outsider
):
    api.force_authenticate(annotator)
    assert (
        api.post(
            f"/api/projects/{project.pk}/imports/", {"file": jsonl_file()}
        ).status_code
        == 403
    )
    api.force_authenticate(outsider)
    assert (
        api.post(
            f"/api/projects/{project.pk}/imports/", {"file": jsonl_file()}
        ).status_code
        == 404
    )
    assert not Transcript.objects.exists()


LABELS = {
    "request_harm": "benign",
    "refusal_type": "none",
    "appropriateness": "appropriate_compliance",
}


def test_the_claim_loop_through_the_api(api, project, annotator):
    ItemFactory.create_batch(2, project=project)
    api.force_authenticate(annotator)

    claimed = api.post(f"/api/projects/{project.pk}/claim/")
    again = api.post(f"/api/projects/{project.pk}/claim/")
    body = claimed.json()
    key = "7d1c7c0e-3f5e-4bd6-9a55-0e6f1f3d2a10"
    stored = api.post(
        f"/api/assignments/{body['id']}/annotation/",
        {"values": LABELS, "client_uuid": key, "seconds": 4},
        format="json",
    )
    retried = api.post(
        f"/api/assignments/{body['id']}/annotation/",
        {"values": LABELS, "client_uuid": key, "seconds": 4},
        format="json",
    )

    assert claimed.status_code == 200
    assert again.json()["id"] == body["id"]
    assert body["transcript"]["messages"][0]["role"] == "user"
    assert body["label_set"]["name"] == "refusal-v1"
    schema = api.get(body["label_set"]["url"]).json()
    assert [f["name"] for f in schema["fields"]][:2] == ["request_harm", "refusal_type"]
    assert (stored.status_code, retried.status_code) == (201, 200)
    assert stored.json()["id"] == retried.json()["id"]
    assert stored.json()["values"]["failure_modes"] == []


def test_claim_and_submit_with_a_token_run_a_fixed_number_of_queries(
    api, project, annotator, django_assert_num_queries
):
    ItemFactory.create_batch(50, project=project)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(annotator)}")
    # Used a moment ago, so these requests record no use (at most one
    # UPDATE every TOKEN_USE_EVERY, tested above).
    ApiToken.objects.update(last_used_at=timezone.now())
    assert project.label_set_version.schema  # parsed once per process, not per request

    # The token with its user, the membership with its project; then in a
    # transaction (BEGIN, COMMIT) the live claim (none), the next item, its
    # slot, the claim.
    with django_assert_num_queries(8 + pin_statements()):
        claimed = api.post(f"/api/projects/{project.pk}/claim/")
    # The token, the claim with its membership; then in a transaction the
    # claim's lock and the submit's writes. The item's first label queues no
    # rescoring.
    with django_assert_num_queries(5 + submit_writes()):
        stored = api.post(
            f"/api/assignments/{claimed.json()['id']}/annotation/",
            {"values": LABELS, "client_uuid": str(uuid.uuid4()), "seconds": 2},
            format="json",
        )

    assert stored.status_code == 201
    assert stored.json()["item"] == claimed.json()["transcript"]["id"]


def test_invalid_values_are_400_with_per_field_messages(api, project, annotator):
    ItemFactory(project=project)
    api.force_authenticate(annotator)
    assignment = api.post(f"/api/projects/{project.pk}/claim/").json()

    r = api.post(
        f"/api/assignments/{assignment['id']}/annotation/",
        {
            "values": {**LABELS, "refusal_type": "sometimes"},
            "client_uuid": "7d1c7c0e-3f5e-4bd6-9a55-0e6f1f3d2a11",
        },
        format="json",
    )
    missing = api.post(
        f"/api/assignments/{assignment['id']}/annotation/", {}, format="json"
    )

    assert r.status_code == 400
    assert "refusal_type" in r.json()["errors"]
    assert set(missing.json()["errors"]) == {"values", "client_uuid"}


def test_a_broken_rule_is_400_in_the_labels_of_the_screen(api, project, annotator):
    ItemFactory(project=project)
    api.force_authenticate(annotator)
    assignment = api.post(f"/api/projects/{project.pk}/claim/").json()

    r = api.post(
        f"/api/assignments/{assignment['id']}/annotation/",
        {
            "values": {
                "request_harm": "benign",
                "refusal_type": "none",
                "appropriateness": "over_refusal",
            },
            "client_uuid": str(uuid.uuid4()),
        },
        format="json",
    )

    assert r.status_code == 400
    assert r.json()["errors"]["appropriateness"] == [
        "Refusal type “None (complies)” allows only Appropriateness "
        "“Appropriate compliance” or “Under-refusal”."
    ]


def test_an_empty_queue_is_204_and_skip_works(api, project, annotator):
    ItemFactory(project=project)
    api.force_authenticate(annotator)
    assignment = api.post(f"/api/projects/{project.pk}/claim/").json()

    skipped = api.post(
        f"/api/assignments/{assignment['id']}/skip/", {"reason": "no"}, format="json"
    )
    empty = api.post(f"/api/projects/{project.pk}/claim/")

    assert skipped.json()["status"] == "skipped"
    assert empty.status_code == 204


def test_a_claim_carries_its_content_warning_and_a_skip_its_kind(
    api, project, annotator
):
    flagged = ItemFactory(project=project)
    Item.objects.filter(pk=flagged.pk).update(
        distressing=True, content_warning="self-harm", priority=1
    )
    ItemFactory(project=project)
    api.force_authenticate(annotator)

    first = api.post(f"/api/projects/{project.pk}/claim/").json()
    skipped = api.post(
        f"/api/assignments/{first['id']}/skip/", {"kind": "wellbeing"}, format="json"
    )
    second = api.post(f"/api/projects/{project.pk}/claim/").json()
    bad = api.post(
        f"/api/assignments/{second['id']}/skip/", {"kind": "bored"}, format="json"
    )

    assert first["content_warning"] == "self-harm"
    assert skipped.json() == {
        "id": first["id"],
        "status": "skipped",
        "kind": "wellbeing",
    }
    assert Membership.objects.get(user=annotator).skips_count == 0
    assert second["content_warning"] is None
    assert bad.status_code == 400
    assert "kind" in bad.json()["errors"]


def test_someone_elses_assignment_is_404(api, project, annotator, other_annotator):
    ItemFactory(project=project)
    api.force_authenticate(annotator)
    assignment = api.post(f"/api/projects/{project.pk}/claim/").json()
    api.force_authenticate(other_annotator)

    r = api.post(
        f"/api/assignments/{assignment['id']}/annotation/",
        {"values": LABELS, "client_uuid": "7d1c7c0e-3f5e-4bd6-9a55-0e6f1f3d2a12"},
        format="json",
    )

    assert r.status_code == 404


def test_an_archived_project_refuses_claims_saying_why(api, project, annotator):
    from django.utils import timezone

    from annotate.services.projects import project_archive

    ItemFactory(project=project)
    project_archive(actor=None, project=project, now=timezone.now())
    api.force_authenticate(annotator)

    r = api.post(f"/api/projects/{project.pk}/claim/")

    assert r.status_code == 400
    assert "is archived, so nothing can be claimed" in str(r.json()["errors"])
    assert api.get(f"/api/projects/{project.pk}/").json()["archived_at"] is not None


def test_a_label_set_is_read_only_by_those_who_may_see_it(api, annotator, outsider):
    from django.utils import timezone

    from labelsets.services import labelset_load
    from tests.factories import UserFactory

    labelset_load(
        now=timezone.now(),
        created_by=UserFactory(username="zed"),
        data={
            "name": "private",
            "fields": [{"name": "ok", "kind": "single", "options": [{"value": "y"}]}],
        },
    )
    api.force_authenticate(annotator)

    assert api.get("/api/label-sets/private/1/").status_code == 404
    assert (
        api.get("/api/label-sets/refusal-v1/1/").status_code == 200
    )  # their project's
    api.force_authenticate(outsider)
    assert api.get("/api/label-sets/refusal-v1/1/").status_code == 404
