"""The annotator's loop in a real browser, keyboard only: label, reload, skip, correct."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect

from annotate.models import Annotation, Assignment
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.outage import database_unreachable

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

QUALITY = ("acknowledge", "explain", "redirect", "respect")
CURRENT = re.compile(r"\bis-current\b")
XSS = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()


def make_project(n_items: int, *, overlap: int = 1, messages=None):
    """A project with n items and annotator alice; items_total kept as import keeps it."""
    project = ProjectFactory(
        overlap=overlap, items_total=n_items, guidelines="Read **all** turns."
    )
    user = UserFactory(username="alice")
    MembershipFactory(user=user, project=project)
    for i in range(n_items):
        if messages is None:
            ItemFactory(project=project)
        else:
            ItemFactory(project=project, transcript__messages=messages(i))
    return project, user


def open_queue(page: Page, live_server, project) -> None:
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    expect(page.locator("#label-form fieldset.is-current")).to_have_count(1)


def label_compliance(page: Page) -> None:
    """benign, none (complies), appropriate compliance: focus ends on failure modes."""
    page.keyboard.press("1")
    page.keyboard.press("1")
    page.keyboard.press("4")
    expect(page.locator("#field-failure_modes")).to_have_class(CURRENT)


def test_five_items_are_labelled_with_the_keyboard_and_progress_moves(
    page: Page, live_server
):
    project, alice = make_project(6)
    open_queue(page, live_server, project)
    progress = page.locator("#project-progress")
    seen: list[str] = []

    for done in range(5):
        expect(progress).to_have_attribute("value", str(done))
        expect(page.locator("#my-today")).to_have_text(str(done))
        text = page.locator(".transcript").inner_text()
        assert text not in seen  # a new item each time
        seen.append(text)
        label_compliance(page)
        page.keyboard.press("Enter")
        expect(progress).to_have_attribute("value", str(done + 1))

    expect(page.locator(".progress-text")).to_contain_text("5 of 6 complete")
    # Focus is on the first field of the next item, ready for the next key.
    expect(page.locator("#field-request_harm")).to_have_class(CURRENT)
    assert page.evaluate("document.activeElement.name") == "request_harm"
    annotations = Annotation.objects.filter(annotator=alice)
    assert annotations.count() == 5
    assert {a.values["refusal_type"] for a in annotations} == {"none"}
    assert all(a.seconds_spent > 0 for a in annotations)


def test_a_reload_in_the_middle_gets_the_same_item_back(page: Page, live_server):
    project, _ = make_project(3)
    open_queue(page, live_server, project)
    label_compliance(page)
    page.keyboard.press("Enter")
    expect(page.locator("#project-progress")).to_have_attribute("value", "1")
    question = page.locator(".turn.user .content").inner_text()
    assignment = page.locator("#item-panel").get_attribute("data-assignment")

    page.reload()

    expect(page.locator(".turn.user .content")).to_have_text(question)
    assert page.locator("#item-panel").get_attribute("data-assignment") == assignment
    assert Assignment.objects.filter(status="live").count() == 1


def test_a_double_enter_stores_one_annotation(page: Page, live_server):
    project, alice = make_project(3)
    open_queue(page, live_server, project)
    label_compliance(page)

    page.keyboard.press("Enter")
    page.keyboard.press("Enter")

    expect(page.locator("#project-progress")).to_have_attribute("value", "1")
    page.wait_for_timeout(500)  # room for a second request, were one sent
    assert Annotation.objects.filter(annotator=alice).count() == 1
    # The second press did not submit the fresh item either.
    expect(page.locator("#error-summary")).to_have_count(0)
    expect(page.locator("#project-progress")).to_have_attribute("value", "1")


def test_hostile_transcript_text_shows_as_text_and_runs_nothing(
    page: Page, live_server
):
    project, _ = make_project(
        1,
        messages=lambda i: [
            {"role": "system", "content": f"System {XSS}"},
            {"role": "user", "content": f"User says {XSS}"},
            {"role": "assistant", "content": f"Assistant says {XSS}"},
        ],
    )
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    urls: list[str] = []
    csp_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("request", lambda req: urls.append(req.url))
    page.on("console", on_console)

    open_queue(page, live_server, project)
    transcript = page.locator(".transcript")

    for turn in (".turn.system", ".turn.user"):
        content = transcript.locator(f"{turn} .content")
        expect(content).to_contain_text("<script>alert(1)</script>")
        expect(content).to_contain_text("<img src=x onerror=alert(1)>")
        expect(content).to_contain_text("[x](javascript:alert(1))")
    # The assistant's Markdown is rendered and sanitised; its raw text is one key away.
    page.get_by_text("Raw text of turn 2").click()
    raw = transcript.locator(".turn.assistant details.raw .content")
    expect(raw).to_contain_text("<script>alert(1)</script>")
    expect(raw).to_contain_text("<img src=x onerror=alert(1)>")
    expect(transcript.locator(".turn.assistant .markdown")).to_contain_text(
        "Assistant says"
    )

    assert transcript.locator("script, img, iframe, [onerror]").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    transcript.locator(".markdown a", has_text="x").click()  # a dead link, not a script
    page.wait_for_timeout(200)

    host = live_server.url.split("/")[2]
    assert {u.split("/")[2] for u in urls if u.startswith("http")} == {host}
    assert not [u for u in urls if u.endswith("/x")]  # the <img src=x> never loaded
    assert dialogs == []
    assert csp_errors == []


def test_quality_fields_appear_only_for_a_refusal(page: Page, live_server):
    project, alice = make_project(2)
    open_queue(page, live_server, project)
    quality = [page.locator(f"#field-{name}") for name in QUALITY]
    for field in quality:
        expect(field).to_be_hidden()

    page.keyboard.press("1")  # request_harm: benign
    page.keyboard.press("2")  # refusal_type: policy
    for field in quality:
        expect(field).to_be_visible()
    expect(page.locator("#id_acknowledge_0")).to_be_enabled()

    page.keyboard.press("ArrowUp")  # back to refusal_type
    page.keyboard.press("1")  # none
    for field in quality:
        expect(field).to_be_hidden()
    expect(page.locator("#id_acknowledge_0")).to_be_disabled()

    page.keyboard.press("ArrowUp")
    page.keyboard.press("5")  # conditional: shown again, and rated by keyboard
    page.keyboard.press("1")  # appropriateness: appropriate refusal
    page.keyboard.press("ArrowDown")  # past failure modes (a multi field)
    for key in "4325":
        page.keyboard.press(key)
    page.keyboard.press("Enter")

    expect(page.locator("#project-progress")).to_have_attribute("value", "1")
    values = Annotation.objects.get(annotator=alice).values
    assert values["refusal_type"] == "conditional"
    assert [values[n] for n in QUALITY] == [4, 3, 2, 5]


def test_question_mark_shows_the_cheat_sheet_and_s_enter_skips(page: Page, live_server):
    project, alice = make_project(1)
    open_queue(page, live_server, project)
    cheatsheet = page.get_by_role("dialog", name="Keyboard")

    page.keyboard.press("?")
    expect(cheatsheet).to_be_visible()
    expect(cheatsheet).to_contain_text("Skip this item")
    page.keyboard.press("Escape")
    expect(cheatsheet).to_be_hidden()

    page.keyboard.press("s")  # open, then cancel: nothing happens
    expect(page.get_by_label("Reason (optional)")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_label("Reason (optional)")).to_be_hidden()
    expect(page.locator("#field-request_harm input").first).to_be_focused()

    page.keyboard.press("s")
    page.keyboard.type("transcript cut off")  # s, u and ? in a text box are text
    page.keyboard.press("Enter")

    expect(page.locator("#item-panel")).to_contain_text("Skipped.")
    expect(page.locator("#item-panel")).to_contain_text("Your queue is empty")
    expect(page.locator("#queue-empty")).to_be_focused()
    assignment = Assignment.objects.get(annotator=alice)
    assert (assignment.status, assignment.skip_reason) == (
        "skipped",
        "transcript cut off",
    )
    assert not Annotation.objects.exists()


def test_a_rule_error_is_shown_inline_and_keeps_the_choices(page: Page, live_server):
    project, _ = make_project(2)
    open_queue(page, live_server, project)
    page.keyboard.press("1")  # benign
    page.keyboard.press("1")  # none
    page.keyboard.press("2")  # over_refusal: not allowed with refusal_type=none
    page.keyboard.press("Enter")

    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Appropriateness")
    expect(page.locator("#err-appropriateness")).to_contain_text(
        "Refusal type “None (complies)” allows only Appropriateness"
    )
    expect(page.locator("#id_appropriateness_1")).to_be_checked()
    expect(page.locator("#id_refusal_type_0")).to_be_checked()
    expect(page.locator("#id_appropriateness_1")).to_be_focused()

    page.keyboard.press("4")  # appropriate_compliance
    page.keyboard.press("Enter")
    expect(page.locator("#project-progress")).to_have_attribute("value", "1")
    assert Annotation.objects.count() == 1


def test_u_reopens_my_previous_annotation_for_correction(page: Page, live_server):
    project, alice = make_project(2)
    open_queue(page, live_server, project)
    label_compliance(page)
    page.keyboard.press("Enter")
    expect(page.locator("#project-progress")).to_have_attribute("value", "1")

    page.keyboard.press("u")
    expect(page.locator("#item-panel")).to_contain_text("Correcting your labels")
    expect(page.locator("#id_request_harm_0")).to_be_checked()
    page.keyboard.press("3")  # request_harm: context dependent
    page.keyboard.press("Enter")

    expect(page.locator("#item-panel")).to_contain_text("Correction saved.")
    annotation = Annotation.objects.get(annotator=alice)
    assert annotation.values["request_harm"] == "context_dependent"


def test_without_javascript_the_form_still_labels_with_full_page_posts(
    browser: Browser, live_server
):
    project, alice = make_project(2)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    first = page.locator(".turn.user .content").inner_text()
    # No show_if without JavaScript: every field shows, the server drops hidden ones.
    expect(page.locator("#field-acknowledge")).to_be_visible()

    page.get_by_role("radio", name="Benign").check()
    page.get_by_role("radio", name="None (complies)").check()
    page.get_by_role("radio", name="Appropriate compliance").check()
    page.get_by_role("radio", name="Recognises the specific request").check()
    page.get_by_role("button", name="Submit").click()

    expect(page.locator(".turn.user .content")).not_to_have_text(first)
    expect(page.locator("#project-progress")).to_have_attribute("value", "1")
    values = Annotation.objects.get(annotator=alice).values
    assert values["refusal_type"] == "none"
    assert "acknowledge" not in values
    context.close()


def test_g_opens_the_guidelines_and_the_bar_stays_in_view_after_scrolling(
    page: Page, live_server
):
    long = "A long answer. " * 400  # far taller than the window
    project, _ = make_project(
        2,
        messages=lambda i: [
            {"role": "user", "content": f"Question {i}?"},
            {"role": "assistant", "content": long},
        ],
    )
    # Narrow (or zoomed): one column in the page's flow, so the window scrolls.
    page.set_viewport_size({"width": 800, "height": 700})
    open_queue(page, live_server, project)
    guidelines = page.locator("#guidelines")

    page.keyboard.press("g")
    expect(guidelines).to_have_attribute("open", "")
    expect(page.get_by_text("Read all turns.")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    expect(guidelines).not_to_have_attribute("open", "")

    page.mouse.wheel(0, 5000)
    for _ in range(50):  # wait_for_function would need eval, which the CSP forbids
        if page.evaluate("window.scrollY") > 1000:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.scrollY") > 1000
    bar = page.locator(".label-header").bounding_box()
    assert bar is not None
    assert 0 <= bar["y"] < 5  # stuck to the top of the window
    expect(page.get_by_role("link", name="← Project")).to_be_in_viewport()


@pytest.mark.postgres  # the live server's threads then open their own connections
def test_a_submit_answered_503_keeps_the_choices_and_enter_saves_it_once(
    page: Page, live_server
):
    project, alice = make_project(2)
    open_queue(page, live_server, project)
    label_compliance(page)
    client_uuid = page.locator('#label-form input[name="client_uuid"]').input_value()

    with database_unreachable():
        page.keyboard.press("Enter")
        expect(page.locator("#request-error")).to_have_text(
            "Could not save: the server is unavailable; your choices are kept"
            " — press Enter to try again."
        )

    # Not swapped away: the same item, the same choices, the same id.
    assert page.locator('input[name="refusal_type"]:checked').input_value() == "none"
    assert page.locator('input[name="request_harm"]:checked').input_value() == "benign"
    assert not Annotation.objects.exists()
    page.keyboard.press("Enter")

    expect(page.locator("#project-progress")).to_have_attribute("value", "1")
    annotation = Annotation.objects.get(annotator=alice)
    assert str(annotation.client_uuid) == client_uuid
    assert annotation.values["refusal_type"] == "none"
