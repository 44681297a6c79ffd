"""What changed between two schemas, in the words the labelling screen shows.

Pure code, no ORM. Fields are matched by name, options and levels by value,
rules by what they check: a renamed field is one removed and one added,
because stored labels are keyed by the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from labelsets.schema import Condition, Field, Level, Option, Rule, Schema

ChangeKind = Literal["added", "removed", "changed"]

KIND_WORDS = {
    "single": "one of",
    "multi": "any of",
    "rating": "a rating",
    "text": "free text",
}


@dataclass(frozen=True)
class Change:
    """One difference: what it is about (`subject`: a field, an option of a
    field, a rule), and how (`detail`: "hotkey 2 → p", an added field's
    options...)."""

    kind: ChangeKind
    subject: str
    detail: str = ""


def schema_diff(old: Schema, new: Schema) -> list[Change]:
    """Every difference from `old` to `new`: fields removed, then each field
    in `new`'s order (added, or its changes and its options' changes), the
    fields' order, then rules removed and added. Empty when they are equal."""
    changes: list[Change] = []
    old_fields = {f.name: f for f in old.fields}
    new_fields = {f.name: f for f in new.fields}
    for f in old.fields:
        if f.name not in new_fields:
            changes.append(Change("removed", _field(f), _summary(f)))
    for f in new.fields:
        before = old_fields.get(f.name)
        if before is None:
            changes.append(Change("added", _field(f), _summary(f)))
        else:
            changes.extend(_field_changes(before, f, old, new))
    kept_old = [n for n in old_fields if n in new_fields]
    kept_new = [n for n in new_fields if n in old_fields]
    if kept_old != kept_new:
        changes.append(
            Change(
                "changed",
                "Order of the fields",
                " → ".join(new_fields[n].label for n in kept_new),
            )
        )
    old_rules = {_rule_key(r): r for r in old.rules}
    new_rules = {_rule_key(r): r for r in new.rules}
    changes.extend(
        Change("removed", "Rule", r.text)
        for key, r in old_rules.items()
        if key not in new_rules
    )
    changes.extend(
        Change("added", "Rule", r.text)
        for key, r in new_rules.items()
        if key not in old_rules
    )
    return changes


def _field(f: Field) -> str:
    return f"Field “{f.label}” ({f.name})"


def _summary(f: Field) -> str:
    """An added or removed field in a line: its kind and its choices."""
    words = KIND_WORDS[f.kind]
    if f.options:
        words += ": " + ", ".join(f"“{o.label}”" for o in f.options)
    elif f.scale:
        words += f" {f.scale[0].value}–{f.scale[-1].value}"
    return words + (", required" if f.required else "")


def _field_changes(
    old: Field, new: Field, old_s: Schema, new_s: Schema
) -> list[Change]:
    subject = _field(new)
    found: list[Change] = []

    def differs(what: str, before: object, after: object) -> None:
        if before != after:
            found.append(Change("changed", subject, f"{what}: {before} → {after}"))

    differs("kind", KIND_WORDS[old.kind], KIND_WORDS[new.kind])
    differs("label", f"“{old.label}”", f"“{new.label}”")
    differs("help", f"“{old.help}”", f"“{new.help}”")
    differs("required", _yes(old.required), _yes(new.required))
    differs("key field", _yes(old.key), _yes(new.key))
    differs(
        "shown",
        _shown(old.show_if, old_s),
        _shown(new.show_if, new_s),
    )
    differs("longest text", old.max_length or "any", new.max_length or "any")
    found.extend(_choice_changes(new, old.options, new.options, "option"))
    found.extend(_choice_changes(new, old.scale, new.scale, "level"))
    return found


def _choice_changes(
    field: Field,
    old: tuple[Option, ...] | tuple[Level, ...],
    new: tuple[Option, ...] | tuple[Level, ...],
    noun: str,
) -> list[Change]:
    found: list[Change] = []
    old_by = {c.value: c for c in old}
    new_by = {c.value: c for c in new}
    for c in old:
        if c.value not in new_by:
            found.append(Change("removed", _choice(field, c, noun)))
    for c in new:
        before = old_by.get(c.value)
        if before is None:
            hotkey = f"hotkey {c.hotkey}" if c.hotkey else "no hotkey"
            found.append(Change("added", _choice(field, c, noun), hotkey))
            continue
        for what in ("label", "help", "hotkey"):
            a, b = getattr(before, what), getattr(c, what)
            if a != b:
                found.append(
                    Change(
                        "changed",
                        _choice(field, c, noun),
                        f"{what}: {_quoted(a)} → {_quoted(b)}",
                    )
                )
    kept_old = [c.value for c in old if c.value in new_by]
    kept_new = [c.value for c in new if c.value in old_by]
    if kept_old != kept_new:
        found.append(
            Change(
                "changed",
                _field(field),
                f"order of the {noun}s: "
                + ", ".join(f"“{new_by[v].label}”" for v in kept_new),
            )
        )
    return found


def _choice(field: Field, choice: Option | Level, noun: str) -> str:
    if isinstance(choice, Level):
        return f"{_field(field)}, {noun} {choice.value} “{choice.label}”"
    return f"{_field(field)}, {noun} “{choice.label}”"


def _quoted(value: str) -> str:
    return f"“{value}”" if value else "none"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _shown(conditions: tuple[Condition, ...], schema: Schema) -> str:
    """When a field is shown, in labels: always, or "when “Refusal type” is
    not “None”"."""
    if not conditions:
        return "always"
    parts = []
    for c in conditions:
        field = schema.field(c.field)
        labels = {o.value: o.label for o in field.options}
        values = " or ".join(f"“{labels.get(v, v)}”" for v in c.values)
        verb = "is" if c.op == "in" else "is not"
        parts.append(f"“{field.label}” {verb} {values}")
    return "when " + " and ".join(parts)


def _rule_key(rule: Rule) -> tuple[object, ...]:
    return (rule.when, rule.require, rule.message)
