"""The manager's members page in a real browser: add by e-mail, the password
shown once, a role changed, a member deactivated (htmx, no page loads)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import ConsoleMessage, Page, expect

from annotate.models import Membership

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()


def test_a_manager_adds_a_member_by_e_mail_changes_the_role_and_deactivates(
    page: Page, live_server, project, manager
):
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("dialog", lambda dialog: problems.append(dialog.message))

    log_in(page, live_server.url, "mona")
    page.get_by_role("link", name=project.name).click()
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    members_url = page.url

    page.get_by_label("Username or e-mail").fill("erin@example.org")
    page.get_by_label("Username or e-mail").press("Enter")

    secret = page.locator("#one-time-secret")
    expect(secret).to_be_focused()  # ready to copy: Ctrl+A, Ctrl+C
    expect(page.get_by_role("status")).to_have_text("erin is added as Annotator.")
    password = secret.input_value()
    assert User.objects.get(email="erin@example.org").check_password(password)
    assert page.url == members_url  # swapped in by htmx, no page load

    page.reload()
    erin = User.objects.get(username="erin")
    expect(page.locator(f"#member-{erin.pk}")).to_be_visible()
    expect(page.locator("#one-time-secret")).to_have_count(0)
    assert password not in page.content()

    page.get_by_label("Role of erin", exact=True).select_option(label="Reviewer")
    page.get_by_role("button", name="Change the role of erin").click()
    expect(page.get_by_role("status")).to_have_text("erin is now Reviewer.")
    assert Membership.objects.get(user__username="erin").role == "reviewer"

    page.get_by_role("button", name="Deactivate erin").click()
    expect(page.get_by_role("status")).to_have_text("erin is deactivated.")
    expect(page.get_by_role("button", name="Reactivate erin")).to_be_visible()
    assert not Membership.objects.get(user__username="erin").is_active

    # The last manager holds: the refusal shows in mona's row.
    page.get_by_role("button", name="Deactivate mona").click()
    expect(page.locator(f"#member-{manager.pk} [role=alert]")).to_contain_text(
        "mona is the project's last manager"
    )
    assert Membership.objects.get(user=manager).is_active
    assert problems == []
