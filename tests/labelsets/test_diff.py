from __future__ import annotations

import copy
from typing import Any

from labelsets.diff import Change, schema_diff
from labelsets.schema import parse_schema


def base() -> dict[str, Any]:
    return {
        "fields": [
            {
                "name": "refusal_type",
                "kind": "single",
                "label": "Refusal type",
                "options": [
                    {"value": "none", "label": "None (complies)"},
                    {"value": "policy", "label": "Policy"},
                ],
            },
            {
                "name": "explain",
                "kind": "rating",
                "label": "Explains",
                "scale": [{"value": 1, "label": "Bad"}, {"value": 2, "label": "Good"}],
                "show_if": {"refusal_type": {"not_in": ["none"]}},
            },
            {"name": "notes", "kind": "text", "label": "Notes"},
        ],
        "rules": [],
    }


def diff(change) -> list[Change]:
    new = copy.deepcopy(base())
    change(new)
    return schema_diff(parse_schema(base()), parse_schema(new))


def test_equal_schemas_have_no_changes():
    assert diff(lambda d: None) == []


def test_fields_added_and_removed_are_named_by_their_labels():
    def change(d):
        d["fields"].pop()  # notes
        d["fields"].append(
            {
                "name": "harm",
                "kind": "multi",
                "label": "Harm",
                "options": [{"value": "bio", "label": "Biology"}],
            }
        )

    assert diff(change) == [
        Change("removed", "Field “Notes” (notes)", "free text"),
        Change("added", "Field “Harm” (harm)", "any of: “Biology”"),
    ]


def test_options_added_removed_and_changed_say_what_changed_in_labels():
    def change(d):
        options = d["fields"][0]["options"]
        options[1] = {"value": "policy", "label": "Safety policy", "hotkey": "p"}
        options[0:1] = []  # none goes
        options.append({"value": "scope", "label": "Scope"})
        d["fields"][1]["show_if"] = {"refusal_type": {"in": ["policy"]}}

    changes = diff(change)

    assert (
        Change(
            "removed", "Field “Refusal type” (refusal_type), option “None (complies)”"
        )
        in changes
    )
    assert (
        Change(
            "added", "Field “Refusal type” (refusal_type), option “Scope”", "hotkey 1"
        )
        in changes
    )
    assert (
        Change(
            "changed",
            "Field “Refusal type” (refusal_type), option “Safety policy”",
            "label: “Policy” → “Safety policy”",
        )
        in changes
    )
    assert (
        Change(
            "changed",
            "Field “Refusal type” (refusal_type), option “Safety policy”",
            "hotkey: “2” → “p”",
        )
        in changes
    )


def test_a_fields_own_changes_are_listed_in_the_screens_words():
    def change(d):
        d["fields"][1]["label"] = "Explains why"
        d["fields"][1]["required"] = False
        d["fields"][1]["show_if"] = {"refusal_type": {"in": ["policy"]}}

    assert diff(change) == [
        Change(
            "changed",
            "Field “Explains why” (explain)",
            "label: “Explains” → “Explains why”",
        ),
        Change("changed", "Field “Explains why” (explain)", "required: yes → no"),
        Change(
            "changed",
            "Field “Explains why” (explain)",
            "shown: when “Refusal type” is not “None (complies)” → when “Refusal type” is “Policy”",
        ),
    ]


def test_rules_added_and_removed_are_shown_as_their_text():
    def change(d):
        d["rules"] = [
            {
                "when": {"refusal_type": {"in": ["none"]}},
                "require": {"refusal_type": {"in": ["none"]}},
            }
        ]

    [rule] = diff(change)

    assert rule.kind == "added"
    assert rule.subject == "Rule"
    assert "“None (complies)”" in rule.detail


def test_a_new_order_of_fields_is_a_change():
    def change(d):
        d["fields"][1], d["fields"][2] = d["fields"][2], d["fields"][1]

    assert diff(change) == [
        Change("changed", "Order of the fields", "Refusal type → Notes → Explains")
    ]
