from __future__ import annotations

import pytest
from pytest_django.asserts import assertContains, assertNotContains

from tests.factories import ItemFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def test_home_lists_my_projects_with_their_counts(client, project, annotator):
    project.items_total, project.items_complete = 12, 5
    project.save()
    ProjectFactory(name="Someone else's")
    client.force_login(annotator)

    r = client.get("/")

    assertContains(r, project.name)
    assertContains(r, '<td class="num">12</td>', html=False)
    assertNotContains(r, "Someone else&#x27;s")


def test_home_needs_login(client):
    r = client.get("/")

    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


def test_login_page_logs_in(client, annotator):
    r = client.post("/login/", {"username": "alice", "password": "pw-for-tests"})

    assert r.status_code == 302
    assert r["Location"] == "/"


def test_project_page_shows_the_overview_to_members(client, project, annotator):
    client.force_login(annotator)

    r = client.get(f"/projects/{project.pk}/")

    assertContains(r, project.name)
    assertNotContains(r, "Import transcripts")


def test_project_page_offers_import_to_managers(client, project, manager):
    client.force_login(manager)

    assertContains(client.get(f"/projects/{project.pk}/"), "Import transcripts")


def test_project_page_is_404_for_outsiders(client, project, outsider):
    client.force_login(outsider)

    assert client.get(f"/projects/{project.pk}/").status_code == 404


def test_post_to_the_project_page_is_405(client, project, annotator):
    client.force_login(annotator)

    assert client.post(f"/projects/{project.pk}/").status_code == 405


def test_healthz_answers_ok(client):
    assert client.get("/healthz/").json() == {"status": "ok"}


def test_pages_carry_the_security_headers(client, annotator):
    client.force_login(annotator)

    r = client.get("/")

    csp = r["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "object-src 'none'" in csp
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Referrer-Policy"] == "same-origin"


def test_htmx_is_served_from_our_static_files(client, annotator):
    client.force_login(annotator)

    r = client.get("/")

    assertContains(r, 'src="/static/vendor/htmx-2.min.js"')
    assertNotContains(r, "https://")


def test_responses_say_how_long_the_server_took(client):
    r = client.get("/healthz/")

    name, dur = r["Server-Timing"].split(";")
    assert name == "app"
    assert float(dur.removeprefix("dur=")) > 0


def test_template_comments_never_reach_the_page(client, annotator):
    client.force_login(annotator)

    r = client.get("/")

    # {# #} comments are one line only; a longer one would print as text.
    assertNotContains(r, "{#")
    assertNotContains(r, "{% comment")


def export_job(project, **kw):
    from django.utils import timezone

    from annotate.models import Job

    return Job.objects.create(
        project=project, kind="export", created_at=timezone.now(), **kw
    )


def test_past_exports_are_listed_with_their_manifest_and_downloads(
    client, project, reviewer
):
    done = export_job(
        project,
        status="succeeded",
        params={"fmt": "csv", "source_model": "model-b", "include_unresolved": False},
        result={
            "rows": 40,
            "format": "csv",
            "sha256": "ab" * 32,
            "by_split": {"train": 32, "validation": 4, "test": 4},
            "key_unresolved": 0,
            "left_out_unresolved": 3,
        },
    )
    failed = export_job(project, status="failed", params={"fmt": "jsonl"})
    client.force_login(reviewer)

    r = client.get(f"/projects/{project.pk}/")

    assertContains(r, f'href="/jobs/{done.pk}/download/data/"')
    assertContains(r, f'href="/jobs/{done.pk}/download/manifest/"')
    assertContains(
        r, "train 32, validation 4, test 4; 3 unresolved left out; model model-b"
    )
    assertContains(r, f'href="/jobs/{failed.pk}/">Gold export #{failed.pk}</a>')
    assertNotContains(r, f'href="/jobs/{failed.pk}/download/data/"')


def test_the_project_page_links_each_audience_to_its_pages(
    client, project, annotator, reviewer
):
    export_job(project, status="queued", params={"fmt": "csv"})
    pages = [f"/projects/{project.pk}/{p}/" for p in ("annotators", "transcripts")]
    mine = f'href="/projects/{project.pk}/my-labels/"'

    client.force_login(annotator)
    as_annotator = client.get(f"/projects/{project.pk}/")
    client.force_login(reviewer)
    as_reviewer = client.get(f"/projects/{project.pk}/")

    assertContains(as_annotator, mine)
    assertNotContains(as_annotator, "Exports")
    for page in pages:
        assertNotContains(as_annotator, f'href="{page}"')
        assertContains(as_reviewer, f'href="{page}"')
    assertContains(as_reviewer, mine)
    assertContains(as_reviewer, "Gold export #")


def test_the_project_page_warns_managers_of_items_the_unreachable_queue_keeps_waiting(
    client, project, manager, annotator, unreachable_broker
):
    ItemFactory.create_batch(2, project=project, rescore_due=True)

    client.force_login(manager)
    r = client.get(f"/projects/{project.pk}/")
    assertContains(r, "2 items wait to be rescored: the task queue is unreachable.")
    client.force_login(annotator)
    assertNotContains(client.get(f"/projects/{project.pk}/"), "to be rescored")


def test_the_project_page_says_nothing_of_due_items_while_the_queue_answers(
    client, project, manager
):
    ItemFactory(project=project, rescore_due=True)
    client.force_login(manager)

    assertNotContains(client.get(f"/projects/{project.pk}/"), "to be rescored")
