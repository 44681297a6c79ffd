from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from labelsets.models import LabelSetVersion

pytestmark = pytest.mark.django_db

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "labelsets" / "examples" / "toxicity-v1.yaml"
)


def run(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_load_reports_the_new_version_then_unchanged():
    assert run("labelset_load", str(EXAMPLE)) == "Loaded toxicity-v1 v1\n"
    assert run("labelset_load", str(EXAMPLE)) == "toxicity-v1 unchanged (v1)\n"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_dump_then_load_round_trips_to_unchanged(tmp_path, fmt):
    path = tmp_path / f"refusal.{fmt}"
    path.write_text(run("labelset_dump", "refusal-v1", format=fmt))

    assert run("labelset_load", str(path)) == "refusal-v1 unchanged (v1)\n"


def test_an_edited_dump_loads_as_a_new_version_and_old_ones_stay_dumpable(tmp_path):
    data = yaml.safe_load(run("labelset_dump", "refusal-v1"))
    data["fields"][-1]["max_length"] = 5000
    path = tmp_path / "refusal.json"
    path.write_text(json.dumps(data))

    assert run("labelset_load", str(path)) == "Loaded refusal-v1 v2\n"
    assert yaml.safe_load(run("labelset_dump", "refusal-v1"))["version"] == 2
    old = yaml.safe_load(run("labelset_dump", "refusal-v1", version=1))
    assert old["version"] == 1
    assert old["fields"][-1]["max_length"] == 2000
    assert LabelSetVersion.objects.filter(label_set__name="refusal-v1").count() == 2


def test_dump_prints_every_field_with_its_options_in_yaml():
    data = yaml.safe_load(run("labelset_dump", "refusal-v1"))

    assert data["name"] == "refusal-v1"
    assert data["fields"][1]["options"][0] == {
        "value": "none",
        "label": "None (complies)",
        "help": "Full compliance; answering with a disclaimer is still none.",
        "hotkey": "1",
    }


def test_dump_of_an_unknown_label_set_or_version_fails():
    with pytest.raises(CommandError, match="No label set nope"):
        run("labelset_dump", "nope")
    with pytest.raises(CommandError, match="No label set refusal-v1 v9"):
        run("labelset_dump", "refusal-v1", version=9)


def test_load_of_a_malformed_file_fails_with_the_path_of_the_bad_key(tmp_path):
    path = tmp_path / "bad.yaml"
    text = EXAMPLE.read_text().replace(
        "show_if: {toxicity: {not_in: [none]}}", "show_if: {toxic: {in: [mild]}}", 1
    )
    path.write_text(text)

    with pytest.raises(CommandError) as e:
        run("labelset_load", str(path))

    assert str(e.value) == f"{path}: fields[1].show_if.toxic: unknown field 'toxic'"


def test_load_of_a_missing_file_fails_cleanly(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run("labelset_load", str(tmp_path / "nope.yaml"))
