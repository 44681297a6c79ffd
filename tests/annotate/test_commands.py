from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Annotation, ApiToken, Membership, Project, Transcript
from annotate.services.tokens import api_token_hash

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_project_uses_the_label_set_and_overlap():
    out = run(
        "create_project", "XSTest eval", "--labelset", "refusal-v1", "--overlap", "2"
    )

    project = Project.objects.get(name="XSTest eval")
    assert project.overlap == 2
    assert "refusal-v1 v1" in out


def test_create_project_caps_items_with_a_content_warning_when_asked():
    out = run(
        "create_project",
        "Care",
        "--flagged-cap",
        "5",
        "--flagged-window-hours",
        "2",
    )

    project = Project.objects.get(name="Care")
    assert (project.flagged_cap, project.flagged_window) == (5, timedelta(hours=2))
    assert "at most 5 items with a content warning per annotator in 2 hours" in out
    run("create_project", "No cap")
    assert Project.objects.get(name="No cap").flagged_cap is None


def test_a_bad_flagged_cap_creates_no_project():
    with pytest.raises(CommandError, match="The cap is from 1 to 100 items"):
        run("create_project", "Care", "--flagged-cap", "0")

    assert not Project.objects.filter(name="Care").exists()


def test_create_project_with_an_unknown_label_set_fails_clearly():
    with pytest.raises(CommandError, match="No label set named 'nope'"):
        run("create_project", "X", "--labelset", "nope")


def test_add_member_creates_the_user_and_prints_the_password(project):
    out = run("add_member", project.name, "erin", "--role", "reviewer")

    assert "Created user erin with password: " in out
    assert Membership.objects.get(user__username="erin").role == "reviewer"


def test_add_member_will_not_demote_the_last_manager(project, manager):
    with pytest.raises(CommandError, match="mona is the project's last manager"):
        run("add_member", project.name, "mona", "--role", "annotator")

    assert Membership.objects.get(user=manager).role == "manager"


def test_create_token_prints_a_key_that_authenticates(annotator, client):
    key = run("create_token", "alice", "--name", "nightly eval").strip()

    token = ApiToken.objects.get(user=annotator)
    assert token.name == "nightly eval"
    assert token.key_hash == api_token_hash(key)
    r = client.get("/api/projects/", headers={"Authorization": f"Token {key}"})
    assert r.status_code == 200


def test_create_token_for_an_unknown_user_fails_clearly(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run("create_token", "ghost")


def test_add_member_to_an_unknown_project_fails_clearly():
    with pytest.raises(CommandError, match="No project named 'ghost'"):
        run("add_member", "ghost", "erin")


def test_import_transcripts_prints_the_summary(project, tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [{"prompt": f"Q{i}", "response": "A", "model": "m1"} for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    out = run("import_transcripts", project.name, str(path))

    assert "Imported 4 transcripts" in out
    assert "skipped 0 duplicates" in out
    assert "m1: 4" in out


def test_import_transcripts_lists_the_errors_and_imports_nothing(project, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("prompt,model\nhi,m\n")

    with pytest.raises(CommandError) as exc:
        run("import_transcripts", project.name, str(path))

    assert "response" in str(exc.value)
    assert not Transcript.objects.exists()


def test_import_transcripts_with_a_missing_file_fails_clearly(project, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run("import_transcripts", project.name, str(tmp_path / "nope.jsonl"))


def test_load_demo_is_idempotent_and_prints_the_logins(settings):
    settings.DEBUG = True

    first = run("load_demo")
    second = run("load_demo")

    project = Project.objects.get(name="Refusal demo")
    assert project.items_total >= 150
    assert "mona" in first
    assert "manager" in first
    assert "0 transcripts imported" in second
    assert Membership.objects.filter(project=project).count() == 5
    # bob and carol have labelled the same 119 of their first 120 items, so
    # agreement has figures; one item's expected labels break a rule (under-
    # refusal of a benign request) and both skip it.
    assert "238 labels by bob and carol" in first
    assert "0 labels by bob and carol" in second
    assert (project.annotations_total, project.items_complete) == (238, 119)
    assert set(
        Annotation.objects.filter(item__project=project).values_list(
            "annotator__username", flat=True
        )
    ) == {"bob", "carol"}


def test_load_demo_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        run("load_demo")


def test_the_demo_covers_every_refusal_type_and_three_models(settings):
    settings.DEBUG = True
    run("load_demo")

    transcripts = Transcript.objects.filter(project__name="Refusal demo")
    intended = {t.metadata["_expected"]["refusal_type"] for t in transcripts}
    assert intended >= {"none", "policy", "capability", "scope", "conditional"}
    appropriateness = {t.metadata["_expected"]["appropriateness"] for t in transcripts}
    assert {"over_refusal", "under_refusal"} <= appropriateness
    assert len({t.source_model for t in transcripts}) == 3
    assert any(len(t.messages) >= 5 for t in transcripts)
