from __future__ import annotations

import copy
from typing import Any

import pytest

from labelsets.schema import (
    Condition,
    Level,
    Option,
    SchemaError,
    parse_schema,
    schema_to_data,
)


def base() -> dict[str, Any]:
    return {
        "fields": [
            {
                "name": "refusal_type",
                "kind": "single",
                "options": [{"value": "none"}, {"value": "policy"}],
            },
            {"name": "modes", "kind": "multi", "options": [{"value": "leak"}]},
            {
                "name": "explain",
                "kind": "rating",
                "scale": [{"value": 1, "label": "Bad"}, {"value": 2, "label": "Good"}],
                "show_if": {"refusal_type": {"not_in": ["none"]}},
            },
            {"name": "notes", "kind": "text"},
        ],
        "rules": [
            {
                "when": {"modes": {"in": ["leak"]}},
                "require": {"refusal_type": {"not_in": ["none"]}},
                "message": "modes leak needs refusal_type other than none",
            }
        ],
    }


def error_for(data: dict[str, Any]) -> str:
    with pytest.raises(SchemaError) as e:
        parse_schema(data)
    return str(e.value)


def test_a_valid_schema_parses_with_defaults_filled_in():
    schema = parse_schema(base())

    refusal_type = schema.field("refusal_type")
    assert refusal_type.label == "Refusal type"
    assert refusal_type.required
    assert refusal_type.options[0] == Option(value="none", label="None", hotkey="1")
    assert not schema.field("modes").required
    assert schema.field("explain").required
    assert schema.field("explain").scale[1] == Level(value=2, label="Good", hotkey="2")
    assert schema.field("explain").show_if == (
        Condition(field="refusal_type", op="not_in", values=("none",)),
    )
    assert not schema.field("notes").required
    assert schema.rules[0].field_names == ("modes", "refusal_type")


def test_schema_to_data_round_trips():
    schema = parse_schema(base())

    assert parse_schema(schema_to_data(schema)) == schema


def test_hotkeys_default_to_digits_then_letters_skipping_reserved_ones():
    data = base()
    data["fields"][0]["options"] = [{"value": f"o{i}"} for i in range(32)]
    data["rules"] = []
    data["fields"][2].pop("show_if")

    hotkeys = [o.hotkey for o in parse_schema(data).field("refusal_type").options]

    assert hotkeys[:10] == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "a"]
    assert "s" not in hotkeys
    assert "u" not in hotkeys
    assert "g" not in hotkeys  # the guidelines' key, unless a label set gives it
    assert "r" not in hotkeys  # reveals a blurred transcript, unless given
    assert hotkeys[-2:] == ["z", ""]  # the pool ran dry


def test_a_label_set_may_give_r_to_an_option():
    data = base()
    data["fields"][0]["options"][0]["hotkey"] = "r"

    assert parse_schema(data).field("refusal_type").options[0].hotkey == "r"


def test_given_hotkeys_are_kept_and_defaults_skip_them():
    data = base()
    data["fields"][0]["options"][1]["hotkey"] = "1"

    hotkeys = [o.hotkey for o in parse_schema(data).field("refusal_type").options]

    assert hotkeys == ["2", "1"]


def test_an_unquoted_yaml_digit_hotkey_is_read_as_a_string():
    data = base()
    data["fields"][0]["options"][0]["hotkey"] = 7

    assert parse_schema(data).field("refusal_type").options[0].hotkey == "7"


def mutate(path_and_change: Any) -> dict[str, Any]:
    data = copy.deepcopy(base())
    path_and_change(data)
    return data


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["fields"][2].update(
                show_if={"refusal_typ": {"not_in": ["none"]}}
            ),
            "fields[2].show_if.refusal_typ: unknown field 'refusal_typ'",
        ),
        (
            lambda d: d["fields"][0].update(show_if={"notes": {"in": ["x"]}}),
            "fields[0].show_if.notes: 'notes' is not an earlier field; show_if can only point backwards",
        ),
        (
            lambda d: d["fields"][3].update(show_if={"explain": {"in": ["1"]}}),
            "fields[3].show_if.explain: 'explain' is a rating field",
        ),
        (
            lambda d: d["fields"][2].update(
                show_if={"refusal_type": {"not_in": ["nope"]}}
            ),
            "fields[2].show_if.refusal_type.not_in[0]: 'nope' is not an option of refusal_type",
        ),
        (
            lambda d: d["fields"][2].update(
                show_if={"refusal_type": {"in": ["none"], "not_in": ["policy"]}}
            ),
            "fields[2].show_if.refusal_type: give exactly one of 'in' or 'not_in'",
        ),
        (
            lambda d: d["fields"][2].update(show_if={"refusal_type": {"is": ["none"]}}),
            "fields[2].show_if.refusal_type.is: unknown key 'is'",
        ),
        (
            lambda d: d["fields"][0].update(show_if={"refusal_type": {"in": ["none"]}}),
            "fields[0].show_if.refusal_type: 'refusal_type' is not an earlier field",
        ),
        (
            lambda d: d["fields"][1].update(name="modes-2"),
            "fields[1].name: 'modes-2' is not an identifier",
        ),
        (
            lambda d: d["fields"][1].update(name="notes"),
            "fields[3].name: duplicate field name 'notes'",
        ),
        (
            lambda d: d["fields"][1].update(kind="many"),
            "fields[1].kind: unknown kind 'many'",
        ),
        (lambda d: d["fields"][1].pop("kind"), "fields[1].kind: missing"),
        (
            lambda d: d["fields"][1].update(optoins=[]),
            "fields[1].optoins: unknown key 'optoins'",
        ),
        (
            lambda d: d["fields"][1].update(a=1, b=2),
            "fields[1].a: unknown keys 'a', 'b'",
        ),
        (lambda d: d.update(extra=1), "schema.extra: unknown key 'extra'"),
        (lambda d: d.pop("fields"), "schema.fields: missing"),
        (lambda d: d.update(fields=[]), "fields: must have at least 1 item"),
        (
            lambda d: d["fields"][1].update(options=[]),
            "fields[1].options: must have at least 1 item",
        ),
        (
            lambda d: d["fields"][1].pop("options"),
            "fields[1].options: must be a list, not null",
        ),
        (
            lambda d: d["fields"][0]["options"].append({"value": "none"}),
            "fields[0].options[2].value: duplicate option value 'none'",
        ),
        (
            lambda d: d["fields"][0]["options"][0].update(value=False),
            "fields[0].options[0].value: must be a string, not bool (quote it in YAML)",
        ),
        (
            lambda d: d["fields"][3].update(options=[{"value": "x"}]),
            "fields[3].options: not allowed for a text field",
        ),
        (
            lambda d: d["fields"][0].update(max_length=5),
            "fields[0].max_length: not allowed for a single field",
        ),
        (
            lambda d: d["fields"][3].update(max_length=0),
            "fields[3].max_length: must be at least 1",
        ),
        (
            lambda d: d["fields"][3].update(key=True),
            "fields[3].key: a text field cannot be the key field",
        ),
        (
            lambda d: [d["fields"][i].update(key=True) for i in (0, 1)],
            "fields: only one field can be the key field, got refusal_type, modes",
        ),
        (
            lambda d: d["fields"][1].update(required="yes"),
            "fields[1].required: must be true or false, not str",
        ),
        (
            lambda d: d["fields"][2]["scale"].reverse(),
            "fields[2].scale[1].value: scale values must increase: 1 after 2",
        ),
        (
            lambda d: d["fields"][2]["scale"].pop(),
            "fields[2].scale: must have at least 2 items",
        ),
        (
            lambda d: d["fields"][2]["scale"][0].pop("label"),
            "fields[2].scale[0].label: missing",
        ),
        (
            lambda d: d["fields"][2]["scale"][0].update(value="1"),
            "fields[2].scale[0].value: must be an integer, not str",
        ),
        (
            lambda d: [o.update(hotkey="x") for o in d["fields"][0]["options"]],
            "fields[0].options[1].hotkey: duplicate hotkey 'x'",
        ),
        (
            lambda d: d["fields"][0]["options"][0].update(hotkey="ab"),
            "fields[0].options[0].hotkey: must be a single character, got 'ab'",
        ),
        (
            lambda d: d["fields"][0]["options"][0].update(hotkey="s"),
            "fields[0].options[0].hotkey: 's' is reserved by the labelling screen",
        ),
        (
            lambda d: d["rules"][0]["when"].update(modez={"in": ["leak"]}),
            "rules[0].when.modez: unknown field 'modez'",
        ),
        (
            lambda d: d["rules"][0]["require"].update(refusal_type={"in": ["polcy"]}),
            "rules[0].require.refusal_type.in[0]: 'polcy' is not an option of refusal_type",
        ),
        (
            lambda d: d["rules"][0]["require"].update(refusal_type={"in": [["none"]]}),
            "rules[0].require.refusal_type.in[0]: ['none'] is not an option of refusal_type",
        ),
        (
            lambda d: d["fields"][3].update(name=["notes"]),
            "fields[3].name: must be a string, not list",
        ),
        (
            lambda d: d["rules"][0]["require"].update(refusal_type={"in": []}),
            "rules[0].require.refusal_type.in: must have at least 1 item",
        ),
        (
            lambda d: d["rules"][0].update(when={}),
            "rules[0].when: must name at least one field",
        ),
        (
            lambda d: d["rules"][0].update(message="needs a refusal"),
            "rules[0].message: must name the fields it checks: modes, refusal_type",
        ),
    ],
)
def test_a_malformed_schema_is_refused_with_the_path_of_the_bad_key(change, expected):
    assert error_for(mutate(change)).startswith(expected)


def test_a_schema_that_is_not_a_mapping_is_refused():
    with pytest.raises(SchemaError, match="^schema: must be a mapping, not list"):
        parse_schema([])  # type: ignore[arg-type]


def test_schema_error_is_a_value_error_with_its_path():
    with pytest.raises(ValueError, match="unknown kind") as e:
        parse_schema(mutate(lambda d: d["fields"][1].update(kind="many")))

    assert isinstance(e.value, SchemaError)
    assert e.value.path == "fields[1].kind"


def test_every_bad_field_and_rule_is_reported_with_its_path():
    data = base()
    data["fields"][0]["kind"] = "choice"
    data["fields"][3]["max_length"] = 0
    data["rules"][0]["when"] = {"modes": {"in": ["nope"]}}

    with pytest.raises(SchemaError) as e:
        parse_schema(data)

    assert [(err.path, err.problem[:20]) for err in e.value.errors] == [
        ("fields[0].kind", "unknown kind 'choice"),
        ("fields[3].max_length", "must be at least 1"),
        ("rules[0].when.modes.in[0]", "'nope' is not an opt"),
    ]
    # The first error is the exception's own path, as with a single one.
    assert e.value.path == "fields[0].kind"
    assert str(e.value).startswith("fields[0].kind: unknown kind")


def test_conditions_on_a_field_with_its_own_error_are_not_reported_again():
    data = base()
    data["fields"][0]["options"] = []  # refusal_type fails itself

    with pytest.raises(SchemaError) as e:
        parse_schema(data)

    # explain's show_if and the rule both name refusal_type: one error only.
    assert [err.path for err in e.value.errors] == ["fields[0].options"]
