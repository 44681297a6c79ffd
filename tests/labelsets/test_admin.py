from __future__ import annotations

import pytest

from labelsets.models import LabelSet

pytestmark = pytest.mark.django_db


def test_the_label_set_page_lists_its_versions_read_only(admin_client):
    label_set = LabelSet.objects.get(name="refusal-v1")

    r = admin_client.get(f"/admin/labelsets/labelset/{label_set.pk}/change/")

    assert r.status_code == 200
    content = r.content.decode()
    assert "request_harm, refusal_type, appropriateness" in content
    assert 'name="versions-0-number"' not in content  # shown, not editable
    assert 'name="versions-0-DELETE"' not in content


def test_versions_have_no_admin_page_of_their_own(admin_client):
    assert admin_client.get("/admin/labelsets/labelsetversion/").status_code == 404
