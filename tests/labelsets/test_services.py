from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from labelsets.models import LabelSet, LabelSetVersion
from labelsets.schema import SchemaError
from labelsets.services import (
    labelset_dump,
    labelset_file_parse,
    labelset_load,
    labelset_parse,
    labelset_plan,
    load_labelset_file,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOTES = {"name": "notes", "kind": "text"}

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "labelsets" / "examples" / "toxicity-v1.yaml"
)


def data(**changes: Any) -> dict[str, Any]:
    return {
        "name": "tiny",
        "description": "A tiny label set.",
        "fields": [
            {
                "name": "ok",
                "kind": "single",
                "options": [{"value": "yes"}, {"value": "no"}],
            }
        ],
        **changes,
    }


def test_load_creates_the_label_set_and_version_1():
    version, created = labelset_load(now=timezone.now(), data=data())

    assert created
    assert version.number == 1
    assert version.label_set.description == "A tiny label set."
    # Stored with defaults resolved.
    assert version.schema_data["fields"][0]["options"][0]["hotkey"] == "1"


def test_loading_the_same_schema_twice_keeps_one_version():
    first, _ = labelset_load(now=timezone.now(), data=data())
    again, created = labelset_load(now=timezone.now(), data=data())

    assert not created
    assert again == first
    assert LabelSetVersion.objects.filter(label_set__name="tiny").count() == 1


def test_a_changed_schema_appends_a_version():
    labelset_load(now=timezone.now(), data=data())
    changed = data(
        fields=[{"name": "ok", "kind": "single", "options": [{"value": "yes"}]}]
    )

    version, created = labelset_load(now=timezone.now(), data=changed)

    assert created
    assert version.number == 2
    assert [o.value for o in version.schema.field("ok").options] == ["yes"]


def test_a_new_description_updates_the_label_set_without_a_version():
    labelset_load(now=timezone.now(), data=data())

    version, created = labelset_load(
        now=timezone.now(), data=data(description="Better.")
    )

    assert not created
    assert LabelSet.objects.get(name="tiny").description == "Better."


def test_dump_then_load_is_unchanged():
    version = LabelSetVersion.objects.get(label_set__name="refusal-v1", number=1)

    again, created = labelset_load(
        now=timezone.now(), data=labelset_dump(version=version)
    )

    assert not created
    assert again == version


def test_dump_holds_name_description_version_fields_and_rules():
    version, _ = labelset_load(now=timezone.now(), data=data())

    dumped = labelset_dump(version=version)

    assert list(dumped) == ["name", "description", "version", "fields", "rules"]
    assert dumped["version"] == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "Not a slug!"}, "name: must be a slug"),
        ({"description": 3}, "description: must be a string"),
        ({"colour": "red"}, "colour: unknown key 'colour'"),
        (
            {"fields": [{"name": "ok", "kind": "rating"}]},
            "fields[0].scale: must be a list",
        ),
    ],
)
def test_malformed_data_is_refused_and_nothing_is_stored(changes, expected):
    with pytest.raises(
        SchemaError, match=f"^{expected.replace('[', '.').replace(']', '.')}"
    ):
        labelset_load(now=timezone.now(), data=data(**changes))

    assert not LabelSet.objects.filter(name="tiny").exists()


def test_load_labelset_file_reads_yaml_and_json(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data()))
    no_extension = tmp_path / "tiny"
    no_extension.write_text(json.dumps(data()))

    assert load_labelset_file(path) == data()
    assert load_labelset_file(no_extension) == data()
    assert load_labelset_file(EXAMPLE)["name"] == "toxicity-v1"


def test_each_format_is_read_as_itself(tmp_path):
    # PyYAML reads 1e3 as text, JSON as a number: which parser ran shows.
    text = '{"name": "tiny", "x": 1e3}'
    as_json, as_yaml = tmp_path / "t.json", tmp_path / "t.yaml"
    as_json.write_text(text)
    as_yaml.write_text(text)
    yaml_only = tmp_path / "y.json"
    yaml_only.write_text("name: tiny  # a YAML comment\n")

    assert load_labelset_file(as_json)["x"] == 1000.0
    assert load_labelset_file(as_yaml)["x"] == "1e3"
    with pytest.raises(SchemaError, match=r"^y\.json:1:1: Expecting value"):
        load_labelset_file(yaml_only)


def test_a_wrong_extension_is_refused_naming_the_ones_read(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(json.dumps(data()))

    with pytest.raises(
        SchemaError, match=r"^tiny\.toml: a label set file is \.json, \.yaml or \.yml"
    ):
        load_labelset_file(path)


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nfields:\n  - name: x\n   kind: single\n")

    with pytest.raises(SchemaError, match=r"^bad\.yaml:4:\d+: "):
        load_labelset_file(path)


def test_a_json_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"name": "bad",\n "fields": [,]}')

    with pytest.raises(SchemaError, match=r"^bad\.json:2:\d+: "):
        load_labelset_file(path)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")

    with pytest.raises(SchemaError, match="^list.yaml: must hold a mapping"):
        load_labelset_file(path)


def test_the_files_own_keys_and_its_schema_are_checked_together():
    bad = data(name="Not a slug!", fields=[{"name": "ok", "kind": "rating"}])

    with pytest.raises(SchemaError) as e:
        labelset_parse(bad)

    assert [err.path for err in e.value.errors] == ["name", "fields[0].scale"]
    assert not LabelSet.objects.filter(name="tiny").exists()


def test_yaml_aliases_are_refused_naming_the_line():
    # Nine aliases of nine aliases of ... is a few bytes that walk as millions.
    text = (
        "name: laughs\n"
        "o: &o [{value: a}, {value: b}]\n"
        "fields:\n"
        "  - {name: x, kind: single, options: *o}\n"
    )

    with pytest.raises(SchemaError, match=r"^laughs\.yaml:4:\d+: aliases"):
        labelset_file_parse(text=text, filename="laughs.yaml")


def test_an_upload_records_its_uploader():
    mona = UserFactory(username="mona")

    version, _ = labelset_load(now=timezone.now(), data=data(), created_by=mona)

    assert version.label_set.created_by == mona


def test_only_the_uploader_or_staff_add_versions():
    mona, bob = UserFactory(username="mona"), UserFactory(username="bob")
    staff = UserFactory(username="sam", is_staff=True)
    labelset_load(now=timezone.now(), data=data(), created_by=mona)
    changed = data(description="Changed.", fields=[*data()["fields"], NOTES])

    with pytest.raises(ValidationError) as e:
        labelset_load(now=timezone.now(), data=changed, created_by=bob)
    assert e.value.error_dict["name"][0].code == "not_yours"
    assert LabelSet.objects.get(name="tiny").description == "A tiny label set."

    version, created = labelset_load(now=timezone.now(), data=changed, created_by=staff)
    assert (version.number, created) == (2, True)
    assert labelset_load(now=timezone.now(), data=changed, created_by=mona)[1] is False


def test_a_shared_label_set_takes_versions_from_staff_and_the_command_only():
    labelset_load(now=timezone.now(), data=data())  # the command: no uploader
    changed = data(fields=[*data()["fields"], NOTES])

    with pytest.raises(ValidationError):
        labelset_load(
            now=timezone.now(), data=changed, created_by=UserFactory(username="mona")
        )
    assert labelset_load(now=timezone.now(), data=changed)[0].number == 2


def test_the_plan_says_what_a_load_would_store_and_stores_nothing():
    mona = UserFactory(username="mona")

    new = labelset_plan(data=data(), created_by=mona)
    assert (new.label_set, new.number, new.unchanged, new.changes) == (
        None,
        1,
        False,
        (),
    )
    assert not LabelSet.objects.filter(name="tiny").exists()

    labelset_load(now=timezone.now(), data=data(), created_by=mona)
    same = labelset_plan(data=data(), created_by=mona)
    assert (same.number, same.unchanged) == (1, True)

    more = labelset_plan(data=data(fields=[*data()["fields"], NOTES]), created_by=mona)
    assert (more.number, more.unchanged) == (2, False)
    assert [c.subject for c in more.changes] == ["Field “Notes” (notes)"]
    assert LabelSetVersion.objects.filter(label_set__name="tiny").count() == 1


def test_the_plan_refuses_a_version_the_load_would_refuse():
    labelset_load(now=timezone.now(), data=data(), created_by=UserFactory())

    with pytest.raises(ValidationError):
        labelset_plan(data=data(), created_by=UserFactory(username="bob"))
