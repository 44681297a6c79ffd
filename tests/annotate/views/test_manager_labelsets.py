"""The managers' label set pages: upload, errors with their paths, the preview
of the real form, checking labels in it, saving, versions and their changes."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from annotate.forms import labelset_upload_token
from labelsets.models import LabelSet, LabelSetVersion
from labelsets.services import labelset_load
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}

TINY: dict[str, Any] = {
    "name": "tiny",
    "description": "Is the answer a refusal?",
    "fields": [
        {
            "name": "refused",
            "kind": "single",
            "label": "Refused",
            "key": True,
            "options": [
                {"value": "yes", "label": "Yes, refused", "hotkey": "y"},
                {"value": "no", "label": "No, answered", "hotkey": "n"},
            ],
        },
        {
            "name": "tone",
            "kind": "single",
            "label": "Tone",
            "options": [{"value": "kind", "label": "Kind"}, {"value": "curt"}],
        },
    ],
    "rules": [
        {
            "when": {"refused": {"in": ["no"]}},
            "require": {"tone": {"in": ["kind"]}},
        }
    ],
}


def yaml_file(data, name="tiny.yaml") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, yaml.safe_dump(data, sort_keys=False).encode())


def token_in(response) -> str:
    match = re.search(rb'name="labelset-upload" value="([^"]+)"', response.content)
    assert match, "no upload token on the page"
    return match.group(1).decode()


def upload(client, data=TINY, name="tiny.yaml"):
    return client.post("/label-sets/upload/", {"file": yaml_file(data, name)})


# Upload and preview ---------------------------------------------------------


def test_an_upload_previews_the_real_form_with_its_hotkeys_and_saves_nothing(
    client, manager
):
    client.force_login(manager)

    r = upload(client)

    assertTemplateUsed(r, "annotate/manager/labelset_preview.html")
    assertContains(r, "Preview: tiny v1")
    assertContains(r, 'id="label-form"')
    assertContains(r, 'data-hotkey="y"')
    assertContains(r, "Yes, refused")
    assertContains(r, "/static/js/label.js")
    assertContains(r, 'action="/label-sets/upload/check/"')
    assert not LabelSet.objects.filter(name="tiny").exists()


def test_every_bad_key_is_listed_with_its_path_and_nothing_is_saved(client, manager):
    bad = {
        **TINY,
        "name": "Not a slug",
        "fields": [
            {**TINY["fields"][0], "kind": "choice"},
            {**TINY["fields"][1], "options": [{"value": "kind"}, {"value": "kind"}]},
        ],
    }
    client.force_login(manager)

    r = upload(client, bad)

    assertContains(r, "3 problems in the file")
    assertContains(r, "<code>name</code>: must be a slug", html=False)
    assertContains(r, "<code>fields[0].kind</code>: unknown kind", html=False)
    assertContains(r, "<code>fields[1].options[1].value</code>: duplicate", html=False)
    assert not LabelSet.objects.filter(name__in=["tiny", "Not a slug"]).exists()


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("t.yaml", b"name: [unclosed\n", "t.yaml:2:1"),
        ("t.json", b'{"name": ', "t.json:1:10"),
        ("t.toml", b"name = 1", "a label set file is .json, .yaml or .yml"),
        ("t.yaml", b"\xff\xfe", "is not UTF-8 text"),
        ("t.yaml", b"- a list\n", "must hold a mapping"),
    ],
)
def test_a_file_that_does_not_read_says_where(client, manager, name, body, message):
    client.force_login(manager)

    r = client.post("/label-sets/upload/", {"file": SimpleUploadedFile(name, body)})

    assert r.status_code == 200
    assertContains(r, message)


def test_the_upload_form_needs_a_file(client, manager):
    client.force_login(manager)

    assertContains(client.post("/label-sets/upload/", {}), "This field is required")


def test_a_changed_schema_previews_as_the_next_version_with_its_changes(
    client, manager
):
    labelset_load(data=TINY, created_by=manager, now=timezone.now())
    changed = {**TINY, "fields": [TINY["fields"][0]], "rules": []}
    client.force_login(manager)

    r = upload(client, changed)

    assertContains(r, "Preview: tiny v2")
    assertContains(r, "A new version of tiny")
    assertContains(r, "Field “Tone” (tone)")
    assertContains(r, "Removed")


def test_a_name_taken_by_someone_else_is_refused(client, manager):
    labelset_load(data=TINY, created_by=UserFactory(username="zed"), now=timezone.now())
    client.force_login(manager)

    r = upload(client, {**TINY, "description": "Mine now"})

    assertContains(r, "only the user who uploaded it (or staff) can add a version")
    assert LabelSet.objects.get(name="tiny").description == TINY["description"]


# Checking labels in the preview ---------------------------------------------


def test_labels_checked_in_the_preview_meet_the_label_sets_rules(client, manager):
    client.force_login(manager)
    token = token_in(upload(client))

    broken = client.post(
        "/label-sets/upload/check/",
        {"labelset-upload": token, "refused": "no", "tone": "curt"},
        headers=HTMX,
    )
    fine = client.post(
        "/label-sets/upload/check/",
        {"labelset-upload": token, "refused": "no", "tone": "kind"},
        headers=HTMX,
    )

    assertTemplateUsed(broken, "item-panel")
    assert b"<html" not in broken.content
    assertContains(broken, "Refused “No, answered” allows only Tone “Kind”.")
    assertContains(fine, "These labels pass every check of the label set.")
    assert not LabelSet.objects.filter(name="tiny").exists()


# Saving ---------------------------------------------------------------------


def test_saving_the_preview_stores_the_label_set_and_shows_it(client, manager):
    client.force_login(manager)
    token = token_in(upload(client))

    r = client.post("/label-sets/upload/save/", {"labelset-upload": token})

    version = LabelSetVersion.objects.get(label_set__name="tiny")
    assert r.status_code == 302
    assert r["Location"] == "/label-sets/tiny/versions/"
    assert version.label_set.created_by == manager
    assertContains(client.get(r["Location"]), "Saved tiny v1.")


def test_saving_twice_keeps_one_version(client, manager):
    client.force_login(manager)
    token = token_in(upload(client))
    client.post("/label-sets/upload/save/", {"labelset-upload": token})

    r = client.post("/label-sets/upload/save/", {"labelset-upload": token}, follow=True)

    assertContains(r, "tiny is unchanged: v1 already has this schema.")
    assert LabelSetVersion.objects.filter(label_set__name="tiny").count() == 1


@pytest.mark.parametrize("tamper", ["changed", "someone else's"])
def test_a_tampered_or_borrowed_preview_saves_nothing(client, manager, tamper):
    if tamper == "changed":
        client.force_login(manager)
        token = token_in(upload(client))
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    else:
        token = labelset_upload_token(UserFactory(username="zed"), TINY)
        client.force_login(manager)

    r = client.post("/label-sets/upload/save/", {"labelset-upload": token})

    assert r.status_code == 200
    assertTemplateUsed(r, "annotate/manager/labelset_upload.html")
    assertContains(
        r, "upload the file again" if tamper == "changed" else "someone else"
    )
    assert not LabelSet.objects.filter(name="tiny").exists()


def test_saving_and_checking_are_post_only(client, manager):
    client.force_login(manager)

    assert client.get("/label-sets/upload/save/").status_code == 405
    assert client.get("/label-sets/upload/check/").status_code == 405


@pytest.mark.parametrize("persona", ["annotator", "reviewer", "outsider"])
def test_uploading_is_403_below_manager(client, persona, request):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    token = labelset_upload_token(user, TINY)

    assert client.get("/label-sets/").status_code == 403
    assert client.get("/label-sets/upload/").status_code == 403
    assert upload(client).status_code == 403
    r = client.post("/label-sets/upload/save/", {"labelset-upload": token})
    assertContains(r, "for project managers", status_code=403)
    assert not LabelSet.objects.filter(name="tiny").exists()


# Versions, their changes, who sees them -------------------------------------


def test_the_label_set_page_lists_versions_and_the_changes_between_them(
    client, manager
):
    labelset_load(data=TINY, created_by=manager, now=timezone.now())
    relabelled = {
        **TINY,
        "fields": [
            TINY["fields"][0],
            {**TINY["fields"][1], "label": "Manner"},
        ],
    }
    labelset_load(data=relabelled, created_by=manager, now=timezone.now())
    client.force_login(manager)

    r = client.get("/label-sets/tiny/versions/")

    assertContains(r, "Changes from v1 to v2")
    assertContains(r, "label: “Tone” → “Manner”")
    assertContains(r, "New project with v2")
    same = client.get("/label-sets/tiny/versions/?from=2&to=2")
    assertContains(same, "No changes")


def test_the_list_shows_ones_own_shared_and_used_label_sets_only(client, manager):
    labelset_load(data=TINY, created_by=UserFactory(username="zed"), now=timezone.now())
    client.force_login(manager)

    r = client.get("/label-sets/")

    assertContains(r, "refusal-v1")  # the installation's own
    assertNotContains(r, "tiny")


def test_someone_elses_label_set_is_404_and_visible_through_a_project(
    client, manager, annotator
):
    version, _ = labelset_load(
        data=TINY, created_by=UserFactory(username="zed"), now=timezone.now()
    )
    client.force_login(manager)
    assert client.get("/label-sets/tiny/versions/").status_code == 404
    assert client.get("/label-sets/nope/versions/").status_code == 404

    using = ProjectFactory(label_set_version=version)
    MembershipFactory(user=manager, project=using, role="manager")
    MembershipFactory(user=annotator, project=using, role="annotator")

    assertContains(client.get("/label-sets/tiny/versions/"), using.name)
    client.force_login(annotator)
    assert client.get("/label-sets/tiny/versions/").status_code == 403


def test_staff_see_every_label_set(client, db):
    labelset_load(data=TINY, created_by=UserFactory(username="zed"), now=timezone.now())
    client.force_login(UserFactory(username="sam", is_staff=True))

    assert client.get("/label-sets/tiny/versions/").status_code == 200
