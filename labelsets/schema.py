"""A label set's schema: fields, options, anchored scales, visibility and rules.

Pure code, no ORM: the schema is parsed from plain data (YAML or JSON), checked
as a whole, and used to validate the values an annotator submits.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal, cast

from django.core.exceptions import ValidationError

Kind = Literal["single", "multi", "rating", "text"]
Op = Literal["in", "not_in"]

KINDS: tuple[Kind, ...] = ("single", "multi", "rating", "text")
CHOICE_KINDS: tuple[Kind, ...] = ("single", "multi")
# The labelling screen binds s (skip), u (undo) and ? (help) itself.
RESERVED_HOTKEYS = frozenset("su?")
# g opens the guidelines unless the current field gives it to an option, and
# r reveals a transcript blurred behind a content warning, before any option
# (label.js): neither is handed out by default, both allowed when a label
# set asks.
DEFAULT_HOTKEYS = [
    k
    for k in "123456789abcdefghijklmnopqrstuvwxyz"
    if k not in {*RESERVED_HOTKEYS, "g", "r"}
]

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_RE = re.compile(r"-?[0-9]+")


class SchemaError(ValueError):
    """A malformed schema. The message starts with the path of the bad key."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    @property
    def errors(self) -> tuple[SchemaError, ...]:
        """Every problem found, in the file's order: this one alone here."""
        return (self,)


class SchemaErrors(SchemaError):
    """Several problems at once; `path` and `problem` are the first one's, the
    message lists them all."""

    def __init__(self, errors: Sequence[SchemaError]) -> None:
        self._errors = tuple(e for error in errors for e in error.errors)
        first = self._errors[0]
        super().__init__(first.path, first.problem)
        self.args = ("; ".join(str(e) for e in self._errors),)

    @property
    def errors(self) -> tuple[SchemaError, ...]:
        return self._errors

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    help: str = ""
    hotkey: str = ""


@dataclass(frozen=True)
class Level:
    """One anchored level of a rating scale."""

    value: int
    label: str
    help: str = ""
    hotkey: str = ""


@dataclass(frozen=True)
class Condition:
    """`field` has (op="in") or lacks (op="not_in") one of `values`.

    For a multi field, "in" means any of the values is selected and "not_in"
    means none is. A field without a value (hidden or unanswered) satisfies
    neither, so anything conditioned on it stays hidden or unchecked.
    """

    field: str
    op: Op
    values: tuple[str, ...]

    def holds(self, values: Mapping[str, object]) -> bool:
        value = values.get(self.field)
        if isinstance(value, str):
            hit = value in self.values
        elif isinstance(value, list):
            hit = any(v in self.values for v in value)
        else:
            return False
        return hit if self.op == "in" else not hit


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    label: str
    help: str = ""
    required: bool = False
    options: tuple[Option, ...] = ()
    scale: tuple[Level, ...] = ()
    show_if: tuple[Condition, ...] = ()  # all must hold
    key: bool = False  # the headline field for disagreement
    max_length: int | None = None

    def shown(self, value: object) -> str:
        """A stored value in the words the labelling screen shows: an option's
        label, a set's labels comma-separated, a rating's number, a dash when
        there is none. A value the field does not know is shown as it is."""
        if value is None or value == "":
            return "—"
        if self.kind == "rating":
            return str(value)  # the screen shows a level by its number
        labels: dict[object, str] = {o.value: o.label for o in self.options}
        if isinstance(value, list):
            return ", ".join(labels.get(v, str(v)) for v in value) or "none"
        return labels.get(value, str(value))


@dataclass(frozen=True)
class Rule:
    """When every `when` condition holds, every `require` condition must hold.

    `text` is what an annotator reads when the rule is broken: the label set's
    own `message` if it gives one, else the rule in the words the screen
    shows (field and option labels, never stored values).
    """

    when: tuple[Condition, ...]
    require: tuple[Condition, ...]
    message: str = ""  # the label set's own wording, if any
    text: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.field for c in (*self.when, *self.require)))


@dataclass(frozen=True)
class Schema:
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()

    @cached_property
    def _by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> Field:
        """The field called `name`; KeyError if there is none."""
        return self._by_name[name]

    def visible_fields(self, values: Mapping[str, object]) -> tuple[Field, ...]:
        """Fields shown for these (raw) values, in schema order."""
        return _evaluate(self, values).visible


# Parsing ------------------------------------------------------------------

_SCHEMA_KEYS = ("fields", "rules")
_FIELD_KEYS = (
    "name",
    "kind",
    "label",
    "help",
    "required",
    "key",
    "options",
    "scale",
    "show_if",
    "max_length",
)
_OPTION_KEYS = ("value", "label", "help", "hotkey")
_RULE_KEYS = ("when", "require", "message")
_RULE_REQUIRED = ("when", "require")
_KIND_ONLY_KEYS = {
    "options": CHOICE_KINDS,
    "scale": ("rating",),
    "max_length": ("text",),
}


def parse_schema(data: Mapping[str, object]) -> Schema:
    """Build a Schema from plain data, checking all of it.

    Raises SchemaError naming the path of the bad key, for example
    `fields[3].show_if.refusal_typ: unknown field 'refusal_typ'`; where there
    are several, SchemaErrors with each of them (its `errors`), the first
    one first. Each field and each rule is checked whatever the others hold,
    but only to its first problem; a field's or rule's reference to a field
    that has an error of its own is not reported again.
    """
    data = _mapping(data, "schema", _SCHEMA_KEYS, required=("fields",))
    raw_fields = _list(data["fields"], "fields", min_items=1)
    # Names of all fields, for a clearer error when show_if points forwards.
    names = {
        r["name"]
        for r in raw_fields
        if isinstance(r, Mapping) and isinstance(r.get("name"), str)
    }
    errors: list[SchemaError] = []
    broken: set[str] = set()  # fields with an error: not in `earlier` or `known`
    fields: list[Field] = []
    for i, raw in enumerate(raw_fields):
        earlier = {f.name: f for f in fields}
        try:
            field = _parse_field(raw, f"fields[{i}]", earlier=earlier, names=names)
        except SchemaError as e:
            if not _follows_from(e, broken):
                errors.append(e)
            if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
                broken.add(raw["name"])
            continue
        if any(f.name == field.name for f in fields):
            errors.append(
                SchemaError(f"fields[{i}].name", f"duplicate field name '{field.name}'")
            )
            continue
        fields.append(field)
    keys = [f.name for f in fields if f.key]
    if len(keys) > 1:
        errors.append(
            SchemaError(
                "fields", f"only one field can be the key field, got {', '.join(keys)}"
            )
        )

    known = {f.name: f for f in fields}
    rules: list[Rule] = []
    try:
        raw_rules = _list(data.get("rules", []), "rules")
    except SchemaError as e:
        errors.append(e)
        raw_rules = []
    for i, raw in enumerate(raw_rules):
        try:
            rules.append(_parse_rule(raw, f"rules[{i}]", known))
        except SchemaError as e:
            if not _follows_from(e, broken):
                errors.append(e)
    if errors:
        raise errors[0] if len(errors) == 1 else SchemaErrors(errors)
    return Schema(fields=tuple(fields), rules=tuple(rules))


# A condition's path ends with the field it names: fields[2].show_if.name,
# rules[0].when.name, rules[0].require.name (then maybe .in[0]).
_CONDITION_PATH_RE = re.compile(r"\.(?:show_if|when|require)\.([A-Za-z_][A-Za-z0-9_]*)")


def _follows_from(error: SchemaError, broken: Set[str]) -> bool:
    """Whether the error is about a condition on a field that failed itself:
    that field's own error says what is wrong."""
    match = _CONDITION_PATH_RE.search(error.path)
    return match is not None and match.group(1) in broken


def _parse_field(
    raw: object, path: str, *, earlier: Mapping[str, Field], names: Set[object]
) -> Field:
    data = _mapping(raw, path, _FIELD_KEYS, required=("name", "kind"))
    name = _identifier(data["name"], f"{path}.name")
    kind_raw = data["kind"]
    if kind_raw not in KINDS:
        raise SchemaError(
            f"{path}.kind", f"unknown kind {kind_raw!r} (one of {', '.join(KINDS)})"
        )
    kind = kind_raw
    for only, kinds in _KIND_ONLY_KEYS.items():
        if only in data and kind not in kinds:
            raise SchemaError(f"{path}.{only}", f"not allowed for a {kind} field")

    options: tuple[Option, ...] = ()
    scale: tuple[Level, ...] = ()
    if kind in CHOICE_KINDS:
        options = _parse_options(data.get("options"), f"{path}.options")
    elif kind == "rating":
        scale = _parse_scale(data.get("scale"), f"{path}.scale")

    max_length = None
    if "max_length" in data:
        max_length = _int(data["max_length"], f"{path}.max_length")
        if max_length < 1:
            raise SchemaError(f"{path}.max_length", "must be at least 1")

    key = _bool(data.get("key", False), f"{path}.key")
    if key and kind == "text":
        raise SchemaError(f"{path}.key", "a text field cannot be the key field")

    show_if: tuple[Condition, ...] = ()
    if "show_if" in data:
        show_if = _parse_conditions(
            data["show_if"], f"{path}.show_if", earlier, later=names
        )

    return Field(
        name=name,
        kind=kind,
        label=_str(data.get("label", _humanise(name)), f"{path}.label", nonempty=True),
        help=_str(data.get("help", ""), f"{path}.help"),
        required=_bool(
            data.get("required", kind in ("single", "rating")), f"{path}.required"
        ),
        options=options,
        scale=scale,
        show_if=show_if,
        key=key,
        max_length=max_length,
    )


def _parse_options(raw: object, path: str) -> tuple[Option, ...]:
    items = [
        _mapping(r, f"{path}[{i}]", _OPTION_KEYS, required=("value",))
        for i, r in enumerate(_list(raw, path, min_items=1))
    ]
    values: list[str] = []
    for i, item in enumerate(items):
        value = _str(item["value"], f"{path}[{i}].value", nonempty=True)
        if value in values:
            raise SchemaError(f"{path}[{i}].value", f"duplicate option value '{value}'")
        values.append(value)
    hotkeys = _hotkeys(items, path)
    pool = iter(k for k in DEFAULT_HOTKEYS if k not in hotkeys.values())
    return tuple(
        Option(
            value=value,
            label=_str(
                item.get("label", _humanise(value)), f"{path}[{i}].label", nonempty=True
            ),
            help=_str(item.get("help", ""), f"{path}[{i}].help"),
            # Past 32 options the pool runs dry; such options get no hotkey.
            hotkey=hotkeys.get(i) or next(pool, ""),
        )
        for i, (item, value) in enumerate(zip(items, values, strict=True))
    )


def _parse_scale(raw: object, path: str) -> tuple[Level, ...]:
    items = [
        _mapping(r, f"{path}[{i}]", _OPTION_KEYS, required=("value", "label"))
        for i, r in enumerate(_list(raw, path, min_items=2))
    ]
    values: list[int] = []
    for i, item in enumerate(items):
        value = _int(item["value"], f"{path}[{i}].value")
        if values and value <= values[-1]:
            raise SchemaError(
                f"{path}[{i}].value",
                f"scale values must increase: {value} after {values[-1]}",
            )
        values.append(value)
    hotkeys = _hotkeys(items, path)
    return tuple(
        Level(
            value=value,
            label=_str(item["label"], f"{path}[{i}].label", nonempty=True),
            help=_str(item.get("help", ""), f"{path}[{i}].help"),
            hotkey=hotkeys.get(i)
            or _default_level_hotkey(value, taken=hotkeys.values()),
        )
        for i, (item, value) in enumerate(zip(items, values, strict=True))
    )


def _default_level_hotkey(value: int, *, taken: Collection[str]) -> str:
    key = str(value)
    return key if 1 <= value <= 9 and key not in taken else ""


def _hotkeys(items: Sequence[Mapping[str, object]], path: str) -> dict[int, str]:
    """The hotkeys given explicitly, by item index; checked and unique."""
    given: dict[int, str] = {}
    for i, item in enumerate(items):
        raw = item.get("hotkey", "")
        # YAML reads an unquoted `hotkey: 1` as an int.
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 9:
            raw = str(raw)
        hotkey = _str(raw, f"{path}[{i}].hotkey")
        if not hotkey:
            continue
        if len(hotkey) != 1 or hotkey.isspace():
            raise SchemaError(
                f"{path}[{i}].hotkey", f"must be a single character, got {hotkey!r}"
            )
        if hotkey in RESERVED_HOTKEYS:
            raise SchemaError(
                f"{path}[{i}].hotkey", f"'{hotkey}' is reserved by the labelling screen"
            )
        if hotkey in given.values():
            raise SchemaError(f"{path}[{i}].hotkey", f"duplicate hotkey '{hotkey}'")
        given[i] = hotkey
    return given


def _parse_rule(raw: object, path: str, known: Mapping[str, Field]) -> Rule:
    data = _mapping(raw, path, _RULE_KEYS, required=_RULE_REQUIRED)
    # In the fields' order, not the mapping's: PostgreSQL's jsonb keeps no key
    # order, and the rule must read (and compare) the same wherever it is stored.
    order = {name: i for i, name in enumerate(known)}
    when = _in_field_order(
        _parse_conditions(data["when"], f"{path}.when", known), order
    )
    require = _in_field_order(
        _parse_conditions(data["require"], f"{path}.require", known), order
    )
    message = _str(data.get("message", ""), f"{path}.message")
    rule = Rule(when=when, require=require, message=message)
    if message:
        # The message is all the annotator sees, so it must say which fields
        # clash, in the words of the screen or by name.
        unnamed = [
            n
            for n in rule.field_names
            if n not in message and known[n].label not in message
        ]
        if unnamed:
            raise SchemaError(
                f"{path}.message",
                f"must name the fields it checks: {', '.join(unnamed)}",
            )
    return replace(rule, text=message or _rule_text(rule, known))


def _in_field_order(
    conditions: tuple[Condition, ...], order: Mapping[str, int]
) -> tuple[Condition, ...]:
    return tuple(sorted(conditions, key=lambda c: order[c.field]))


def _rule_text(rule: Rule, known: Mapping[str, Field]) -> str:
    """The rule in the screen's words: 'Refusal type “None (complies)” allows
    only Appropriateness “Appropriate compliance” or “Under-refusal”.'"""

    def clause(condition: Condition) -> str:
        field = known[condition.field]
        labels = {o.value: o.label for o in field.options}
        shown = [f"“{labels[v]}”" for v in condition.values]
        either = (
            shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
        )
        if condition.op == "in":
            return f"{field.label} {either}"
        return f"{field.label} other than {either}"

    verb = "allows only" if all(c.op == "in" for c in rule.require) else "needs"
    when = " with ".join(clause(c) for c in rule.when)
    return f"{when} {verb} {' and '.join(clause(c) for c in rule.require)}."


def _parse_conditions(
    raw: object,
    path: str,
    known: Mapping[str, Field],
    *,
    later: Set[object] = frozenset(),
) -> tuple[Condition, ...]:
    if not isinstance(raw, Mapping):
        raise SchemaError(
            path,
            f"must be a mapping of field to {{in: [...]}} or {{not_in: [...]}}, not {_type(raw)}",
        )
    if not raw:
        raise SchemaError(path, "must name at least one field")
    conditions = []
    for name, spec in raw.items():
        cpath = f"{path}.{name}"
        field = known.get(name)
        if field is None:
            if name in later:
                # show_if sees only earlier fields, which is what rules out cycles.
                raise SchemaError(
                    cpath,
                    f"'{name}' is not an earlier field; show_if can only point backwards",
                )
            raise SchemaError(cpath, f"unknown field {name!r}")
        if field.kind not in CHOICE_KINDS:
            raise SchemaError(
                cpath,
                f"'{name}' is a {field.kind} field; conditions need a single or multi field",
            )
        spec = _mapping(spec, cpath, ("in", "not_in"))
        if len(spec) != 1:
            raise SchemaError(cpath, "give exactly one of 'in' or 'not_in'")
        op, raw_values = next(iter(spec.items()))
        vpath = f"{cpath}.{op}"
        values = []
        option_values = {o.value for o in field.options}
        for i, value in enumerate(_list(raw_values, vpath, min_items=1)):
            if not isinstance(value, str) or value not in option_values:
                raise SchemaError(
                    f"{vpath}[{i}]", f"{value!r} is not an option of {name}"
                )
            values.append(value)
        conditions.append(Condition(field=name, op=cast(Op, op), values=tuple(values)))
    return tuple(conditions)


def _mapping(
    raw: object, path: str, allowed: Sequence[str], *, required: Sequence[str] = ()
) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise SchemaError(path, f"must be a mapping, not {_type(raw)}")
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise SchemaError(
            f"{path}.{unknown[0]}",
            f"unknown key{'s' if len(unknown) > 1 else ''} {names} (allowed: {', '.join(allowed)})",
        )
    for key in required:
        if key not in raw:
            raise SchemaError(f"{path}.{key}", "missing")
    return cast(Mapping[str, object], raw)


def _list(raw: object, path: str, *, min_items: int = 0) -> list[object]:
    if not isinstance(raw, list | tuple):
        raise SchemaError(path, f"must be a list, not {_type(raw)}")
    if len(raw) < min_items:
        raise SchemaError(
            path, f"must have at least {min_items} item{'s' if min_items > 1 else ''}"
        )
    return list(raw)


def _str(raw: object, path: str, *, nonempty: bool = False) -> str:
    if not isinstance(raw, str):
        # Quoting matters in YAML: yes, no, on and off are read as booleans.
        raise SchemaError(
            path, f"must be a string, not {_type(raw)} (quote it in YAML)"
        )
    if nonempty and not raw.strip():
        raise SchemaError(path, "must not be empty")
    return raw


def _int(raw: object, path: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise SchemaError(path, f"must be an integer, not {_type(raw)}")
    return raw


def _bool(raw: object, path: str) -> bool:
    if not isinstance(raw, bool):
        raise SchemaError(path, f"must be true or false, not {_type(raw)}")
    return raw


def _identifier(raw: object, path: str) -> str:
    name = _str(raw, path, nonempty=True)
    if not _NAME_RE.fullmatch(name):
        raise SchemaError(
            path,
            f"{name!r} is not an identifier (letters, digits and _, not starting with a digit)",
        )
    return name


def _type(raw: object) -> str:
    return "null" if raw is None else type(raw).__name__


def _humanise(name: str) -> str:
    return name.replace("_", " ").capitalize()


# Serialising ----------------------------------------------------------------


def schema_to_data(schema: Schema) -> dict[str, object]:
    """Plain data for a schema: `parse_schema(schema_to_data(s)) == s`.

    Defaults are resolved (labels, required, hotkeys), so the data stays
    valid and means the same if the defaults change later.
    """
    return {
        "fields": [_field_to_data(f) for f in schema.fields],
        "rules": [
            {
                "when": _conditions_to_data(r.when),
                "require": _conditions_to_data(r.require),
                **({"message": r.message} if r.message else {}),
            }
            for r in schema.rules
        ],
    }


def _field_to_data(field: Field) -> dict[str, object]:
    data: dict[str, object] = {
        "name": field.name,
        "kind": field.kind,
        "label": field.label,
    }
    if field.help:
        data["help"] = field.help
    data["required"] = field.required
    if field.key:
        data["key"] = True
    if field.kind in CHOICE_KINDS:
        data["options"] = [
            _choice_to_data(o.value, o.label, o.help, o.hotkey) for o in field.options
        ]
    if field.kind == "rating":
        data["scale"] = [
            _choice_to_data(lv.value, lv.label, lv.help, lv.hotkey)
            for lv in field.scale
        ]
    if field.show_if:
        data["show_if"] = _conditions_to_data(field.show_if)
    if field.max_length is not None:
        data["max_length"] = field.max_length
    return data


def _choice_to_data(
    value: str | int, label: str, help: str, hotkey: str
) -> dict[str, object]:
    data: dict[str, object] = {"value": value, "label": label}
    if help:
        data["help"] = help
    if hotkey:
        data["hotkey"] = hotkey
    return data


def _conditions_to_data(conditions: tuple[Condition, ...]) -> dict[str, object]:
    return {c.field: {c.op: list(c.values)} for c in conditions}


# Validating values ----------------------------------------------------------


@dataclass
class _Evaluation:
    clean: dict[str, object]
    errors: dict[str, list[ValidationError]]
    visible: tuple[Field, ...]


def validate_values(schema: Schema, values: Mapping[str, object]) -> dict[str, object]:
    """Check one annotation's values against the schema and return them clean.

    Raises ValidationError with a dict of per-field errors (`e.message_dict`),
    codes: unknown_field, invalid_type, invalid_choice, too_long, required, rule.
    Fields hidden by show_if are dropped whatever was sent; a visible multi
    field that is absent is [] (nothing selected), an absent text field is "".
    """
    result = _evaluate(schema, values)
    if result.errors:
        raise ValidationError(result.errors)
    return result.clean


def _evaluate(schema: Schema, values: Mapping[str, object]) -> _Evaluation:
    errors: dict[str, list[ValidationError]] = {
        name: [ValidationError(f"Unknown field '{name}'.", code="unknown_field")]
        for name in values
        if name not in schema._by_name
    }
    clean: dict[str, object] = {}
    visible: list[Field] = []
    # Fields come in schema order and show_if points only backwards, so the
    # controlling values are already clean when a field's visibility is decided.
    for field in schema.fields:
        if not all(c.holds(clean) for c in field.show_if):
            continue
        visible.append(field)
        try:
            value = _clean_value(field, values.get(field.name))
        except ValidationError as e:
            errors[field.name] = [e]
            continue
        if value is None and field.required:
            errors[field.name] = [
                ValidationError("This field is required.", code="required")
            ]
        elif value is not None:
            clean[field.name] = value
        elif field.kind == "multi":
            clean[field.name] = []
        elif field.kind == "text":
            clean[field.name] = ""

    for rule in schema.rules:
        # A rule speaks only about answered, visible fields: a missing or
        # invalid one already has its own error.
        if not all(n in clean for n in rule.field_names):
            continue
        if not all(c.holds(clean) for c in rule.when):
            continue
        # The message goes on the fields whose requirement fails: the ones to
        # change.
        failing = [c.field for c in rule.require if not c.holds(clean)]
        for name in dict.fromkeys(failing):
            errors.setdefault(name, []).append(ValidationError(rule.text, code="rule"))
    return _Evaluation(clean=clean, errors=errors, visible=tuple(visible))


def field_value_clean(field: Field, raw: object) -> object:
    """One field's value checked and cleaned on its own (None: no answer),
    as validate_values checks it; raises ValidationError saying why not."""
    return _clean_value(field, raw)


def _clean_value(field: Field, raw: object) -> object:
    """The clean value of one visible field; None when it has no answer."""
    if raw is None or raw == "" or raw == [] or raw == ():
        return None
    if field.kind == "single":
        if not isinstance(raw, str):
            raise _invalid_type(field, "an option value")
        if raw not in {o.value for o in field.options}:
            raise _invalid_choice(field, raw)
        return raw
    if field.kind == "multi":
        if not isinstance(raw, list | tuple) or not all(
            isinstance(v, str) for v in raw
        ):
            raise _invalid_type(field, "a list of option values")
        if unknown := [v for v in raw if v not in {o.value for o in field.options}]:
            raise _invalid_choice(field, unknown[0])
        if len(set(raw)) != len(raw):
            raise ValidationError(
                "Each option can be selected once.", code="invalid_choice"
            )
        return [o.value for o in field.options if o.value in raw]
    if field.kind == "rating":
        # HTML forms send numbers as strings.
        if isinstance(raw, str) and _INT_RE.fullmatch(raw.strip()):
            raw = int(raw)
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise _invalid_type(field, "a whole number")
        if raw not in {lv.value for lv in field.scale}:
            raise _invalid_choice(field, str(raw))
        return raw
    if not isinstance(raw, str):
        raise _invalid_type(field, "text")
    text = raw.strip()
    if "\x00" in text:
        # PostgreSQL cannot store NUL in JSON text.
        raise ValidationError("Null characters are not allowed.", code="invalid_type")
    if field.max_length is not None and len(text) > field.max_length:
        raise ValidationError(
            f"At most {field.max_length} characters (this has {len(text)}).",
            code="too_long",
        )
    return text or None


def _invalid_choice(field: Field, value: str) -> ValidationError:
    return ValidationError(
        f"Select a valid choice. {value} is not one of the available choices for {field.name}.",
        code="invalid_choice",
    )


def _invalid_type(field: Field, expected: str) -> ValidationError:
    return ValidationError(f"{field.label} must be {expected}.", code="invalid_type")
