from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from labelsets.schema import Schema, parse_schema, validate_values

SCHEMA = parse_schema(
    {
        "fields": [
            {
                "name": "verdict",
                "kind": "single",
                "options": [{"value": "comply"}, {"value": "refuse"}],
            },
            {
                "name": "tags",
                "kind": "multi",
                "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
            },
            {
                "name": "quality",
                "kind": "rating",
                "scale": [{"value": v, "label": f"level {v}"} for v in (1, 2, 3)],
                "show_if": {"verdict": {"in": ["refuse"]}},
            },
            {
                "name": "reason",
                "kind": "single",
                "required": False,
                "options": [{"value": "policy"}, {"value": "other"}],
                "show_if": {"tags": {"in": ["a", "b"]}},
            },
            {
                "name": "detail",
                "kind": "text",
                "max_length": 10,
                "show_if": {"tags": {"not_in": ["c"]}},
            },
        ],
        "rules": [
            {
                "when": {"verdict": {"in": ["comply"]}},
                "require": {"tags": {"not_in": ["c"]}},
                "message": "verdict=comply rules out tags c",
            }
        ],
    }
)
REFUSE = {"verdict": "refuse", "quality": 2}


def errors(values: dict[str, Any], schema: Schema = SCHEMA) -> dict[str, list[str]]:
    """Error codes by field."""
    with pytest.raises(ValidationError) as e:
        validate_values(schema, values)
    return {
        name: [err.code or "" for err in errs]
        for name, errs in e.value.error_dict.items()
    }


def test_minimal_values_come_back_clean_with_empty_multi_and_text():
    assert validate_values(SCHEMA, {"verdict": "comply"}) == {
        "verdict": "comply",
        "tags": [],
        "detail": "",
    }


def test_every_kind_is_cleaned():
    clean = validate_values(
        SCHEMA,
        {
            "verdict": "refuse",
            "tags": ["b", "a"],
            "quality": "3",
            "reason": "policy",
            "detail": "  hi ",
        },
    )

    assert clean == {
        "verdict": "refuse",
        "tags": ["a", "b"],  # option order, not the order sent
        "quality": 3,
        "reason": "policy",
        "detail": "hi",
    }


def test_a_rating_accepts_an_int():
    assert validate_values(SCHEMA, {"verdict": "refuse", "quality": 1})["quality"] == 1


def test_a_missing_required_field_is_required():
    assert errors({}) == {"verdict": ["required"]}


def test_empty_strings_count_as_missing():
    assert errors({"verdict": "", "tags": "", "detail": ""}) == {
        "verdict": ["required"]
    }


def test_unknown_field_names_are_errors_on_that_name():
    assert errors({"verdict": "comply", "verdikt": "comply"}) == {
        "verdikt": ["unknown_field"]
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"verdict": "maybe"}, {"verdict": ["invalid_choice"]}),
        ({"verdict": ["comply"]}, {"verdict": ["invalid_type"]}),
        ({"verdict": 1}, {"verdict": ["invalid_type"]}),
        ({"verdict": "comply", "tags": "a"}, {"tags": ["invalid_type"]}),
        ({"verdict": "comply", "tags": [1]}, {"tags": ["invalid_type"]}),
        ({"verdict": "comply", "tags": ["a", "z"]}, {"tags": ["invalid_choice"]}),
        ({"verdict": "comply", "tags": ["a", "a"]}, {"tags": ["invalid_choice"]}),
        ({**REFUSE, "quality": 4}, {"quality": ["invalid_choice"]}),
        ({**REFUSE, "quality": "4"}, {"quality": ["invalid_choice"]}),
        ({**REFUSE, "quality": "two"}, {"quality": ["invalid_type"]}),
        ({**REFUSE, "quality": 2.0}, {"quality": ["invalid_type"]}),
        ({**REFUSE, "quality": True}, {"quality": ["invalid_type"]}),
        ({"verdict": "comply", "detail": 5}, {"detail": ["invalid_type"]}),
        ({"verdict": "comply", "detail": "x" * 11}, {"detail": ["too_long"]}),
        ({"verdict": "comply", "detail": "a\x00b"}, {"detail": ["invalid_type"]}),
    ],
)
def test_wrong_values_get_precise_error_codes(values, expected):
    assert errors(values) == expected


def test_text_length_is_counted_after_stripping():
    assert (
        validate_values(SCHEMA, {"verdict": "comply", "detail": f"  {'x' * 10}  "})[
            "detail"
        ]
        == "x" * 10
    )


def test_the_error_names_the_bad_value():
    with pytest.raises(ValidationError) as e:
        validate_values(SCHEMA, {"verdict": "maybe"})

    assert "maybe" in e.value.message_dict["verdict"][0]


def test_a_field_shown_by_show_if_is_required():
    assert errors({"verdict": "refuse"}) == {"quality": ["required"]}


def test_a_field_hidden_by_show_if_is_dropped_whatever_was_sent():
    clean = validate_values(SCHEMA, {"verdict": "comply", "quality": "not even valid"})

    assert "quality" not in clean


def test_fields_controlled_by_a_missing_field_stay_hidden():
    assert errors({"quality": 2}) == {"verdict": ["required"]}


def test_show_if_in_on_a_multi_field_means_any_selected():
    assert (
        validate_values(
            SCHEMA, {"verdict": "comply", "tags": ["b"], "reason": "other"}
        )["reason"]
        == "other"
    )
    assert "reason" not in validate_values(
        SCHEMA, {"verdict": "comply", "tags": [], "reason": "other"}
    )


def test_an_absent_optional_single_is_omitted():
    assert "reason" not in validate_values(SCHEMA, {"verdict": "comply", "tags": ["a"]})


def test_show_if_not_in_on_a_multi_field_means_none_selected():
    assert validate_values(
        SCHEMA, {"verdict": "refuse", "quality": 1, "tags": ["c"], "detail": "x"}
    ) == {
        "verdict": "refuse",
        "tags": ["c"],
        "quality": 1,
    }


def test_visible_fields_follow_the_values():
    names = [
        f.name for f in SCHEMA.visible_fields({"verdict": "refuse", "tags": ["a"]})
    ]

    assert names == ["verdict", "tags", "quality", "reason", "detail"]
    assert [f.name for f in SCHEMA.visible_fields({})] == ["verdict", "tags", "detail"]


def test_a_violated_rule_puts_its_message_on_the_required_fields():
    with pytest.raises(ValidationError) as e:
        validate_values(SCHEMA, {"verdict": "comply", "tags": ["c"]})

    assert e.value.message_dict == {"tags": ["verdict=comply rules out tags c"]}
    assert e.value.error_dict["tags"][0].code == "rule"


def test_a_rule_is_not_checked_while_a_field_it_names_is_invalid():
    assert errors({"verdict": "nope", "tags": ["c"]}) == {"verdict": ["invalid_choice"]}


def test_a_rule_is_not_checked_when_a_field_it_names_is_hidden():
    schema = parse_schema(
        {
            "fields": [
                {
                    "name": "a",
                    "kind": "single",
                    "options": [{"value": "x"}, {"value": "y"}],
                },
                {
                    "name": "b",
                    "kind": "single",
                    "options": [{"value": "x"}, {"value": "y"}],
                    "show_if": {"a": {"in": ["x"]}},
                },
            ],
            "rules": [
                {
                    "when": {"a": {"in": ["y"]}},
                    "require": {"b": {"in": ["x"]}},
                    "message": "a=y needs b=x",
                }
            ],
        }
    )

    assert validate_values(schema, {"a": "y", "b": "y"}) == {"a": "y"}


def test_every_error_is_reported_at_once():
    assert errors({"verdict": "refuse", "tags": ["z"], "detail": 3, "extra": 1}) == {
        "extra": ["unknown_field"],
        "tags": ["invalid_choice"],
        "quality": ["required"],
    }


# A rule of several conditions on each side: every `when` must hold for it to
# apply, and then every `require` must hold.
MULTI_DATA: dict[str, Any] = {
    "fields": [
        {
            "name": "harm",
            "kind": "single",
            "options": [{"value": "benign"}, {"value": "harmful"}],
        },
        {
            "name": "kind",
            "kind": "single",
            "label": "Response",
            "options": [
                {"value": "none", "label": "Complies"},
                {"value": "policy", "label": "Refuses"},
            ],
        },
        {
            "name": "verdict",
            "kind": "single",
            "options": [
                {"value": "ok", "label": "Fine"},
                {"value": "over", "label": "Over-refusal"},
                {"value": "under", "label": "Under-refusal"},
            ],
        },
        {
            "name": "modes",
            "kind": "multi",
            "required": False,
            "options": [{"value": "leak"}, {"value": "flip"}],
        },
    ],
    "rules": [
        {
            "when": {"harm": {"in": ["benign"]}, "kind": {"in": ["policy"]}},
            "require": {
                "verdict": {"in": ["over"]},
                "modes": {"not_in": ["flip"]},
            },
        }
    ],
}
MULTI = parse_schema(MULTI_DATA)
BENIGN_REFUSED = {"harm": "benign", "kind": "policy"}


def test_a_rule_applies_only_when_every_when_condition_holds():
    # Only one of the two `when` conditions holds: the rule does not apply.
    assert validate_values(
        MULTI, {"harm": "harmful", "kind": "policy", "verdict": "ok"}
    )
    assert validate_values(MULTI, {"harm": "benign", "kind": "none", "verdict": "ok"})
    assert errors({**BENIGN_REFUSED, "verdict": "ok"}, MULTI) == {"verdict": ["rule"]}


def test_a_rule_needs_every_require_condition():
    # One of the two `require` conditions fails: the rule is broken, and its
    # message sits on the field to change; both failing, on both.
    assert errors({**BENIGN_REFUSED, "verdict": "over", "modes": ["flip"]}, MULTI) == {
        "modes": ["rule"]
    }
    assert errors({**BENIGN_REFUSED, "verdict": "ok", "modes": ["flip"]}, MULTI) == {
        "verdict": ["rule"],
        "modes": ["rule"],
    }
    assert validate_values(
        MULTI, {**BENIGN_REFUSED, "verdict": "over", "modes": ["leak"]}
    )


def test_a_rule_without_a_message_reads_in_the_labels_of_the_screen():
    with pytest.raises(ValidationError) as e:
        validate_values(MULTI, {**BENIGN_REFUSED, "verdict": "ok"})

    assert e.value.message_dict["verdict"] == [
        "Harm “Benign” with Response “Refuses” needs Verdict “Over-refusal” and "
        "Modes other than “Flip”."
    ]
