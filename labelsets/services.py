"""Writes for label sets, and reading label set files."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from labelsets.diff import Change, schema_diff
from labelsets.models import LabelSet, LabelSetVersion
from labelsets.schema import (
    Schema,
    SchemaError,
    SchemaErrors,
    parse_schema,
    schema_to_data,
)

_FILE_KEYS = ("name", "description", "version", "fields", "rules")
_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,64}")


@dataclass(frozen=True)
class LabelSetFile:
    """A label set file's contents, checked: what labelset_load stores."""

    name: str
    description: str
    schema: Schema


def labelset_parse(data: Mapping[str, object]) -> LabelSetFile:
    """Check a label set file's data whole, storing nothing.

    Raises SchemaError with the path of the bad key, or SchemaErrors with
    each problem (the file's own keys first, then parse_schema's).
    """
    errors: list[SchemaError] = []
    unknown = [k for k in data if k not in _FILE_KEYS]
    if unknown:
        errors.append(
            SchemaError(
                str(unknown[0]),
                f"unknown key {unknown[0]!r} (allowed: {', '.join(_FILE_KEYS)})",
            )
        )
    name = data.get("name")
    if not isinstance(name, str) or not _SLUG_RE.fullmatch(name):
        errors.append(
            SchemaError(
                "name",
                f"must be a slug of letters, digits, - and _ (at most 64), got {name!r}",
            )
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        errors.append(SchemaError("description", "must be a string"))
    try:
        schema = parse_schema(
            {k: v for k, v in data.items() if k in ("fields", "rules")}
        )
    except SchemaError as e:
        errors.extend(e.errors)
    if errors:
        raise errors[0] if len(errors) == 1 else SchemaErrors(errors)
    # Both are strings here (checked above); str() tells the type checker.
    return LabelSetFile(name=str(name), description=str(description), schema=schema)


@dataclass(frozen=True)
class LabelSetPlan:
    """What storing a label set file would do, before anything is stored."""

    file: LabelSetFile
    label_set: LabelSet | None  # the label set of that name, if there is one
    latest: LabelSetVersion | None  # its latest version
    number: int  # the version the file becomes (the latest's, when unchanged)
    unchanged: bool  # the schema is the latest version's
    changes: tuple[Change, ...]  # from the latest version, in labels


def labelset_plan(
    *, data: Mapping[str, object], created_by: User | None
) -> LabelSetPlan:
    """Check a label set file and say what labelset_load would store: a new
    label set, a new version of one (with its changes), or nothing new.
    Writes nothing.

    Raises SchemaError (SchemaErrors: each bad key with its path) for
    malformed data, and ValidationError (code `not_yours`) as labelset_load
    would for a version `created_by` may not add.
    """
    parsed = labelset_parse(data)
    label_set = LabelSet.objects.filter(name=parsed.name).first()
    if label_set is not None:
        _version_allowed_check(label_set, created_by)
    latest = label_set.versions.order_by("-number").first() if label_set else None
    if latest is None:
        return LabelSetPlan(parsed, label_set, None, 1, False, ())
    unchanged = latest.schema == parsed.schema
    return LabelSetPlan(
        file=parsed,
        label_set=label_set,
        latest=latest,
        number=latest.number if unchanged else latest.number + 1,
        unchanged=unchanged,
        changes=tuple(schema_diff(latest.schema, parsed.schema)),
    )


def labelset_version_allowed(label_set: LabelSet, user: User) -> bool:
    """Whether the user may add versions to the label set: staff, and
    whoever uploaded it. Label sets loaded by a migration or the command
    (no uploader) take new versions from staff (or the command) only."""
    return user.is_staff or (
        label_set.created_by_id is not None and label_set.created_by_id == user.pk
    )


def _version_allowed_check(label_set: LabelSet, created_by: User | None) -> None:
    if created_by is None or labelset_version_allowed(label_set, created_by):
        return
    message = (
        f"A label set named {label_set.name} already exists, and only the user "
        "who uploaded it (or staff) can add a version to it. Give yours another name."
    )
    raise ValidationError({"name": ValidationError(message, code="not_yours")})


@transaction.atomic
def labelset_load(
    *,
    data: Mapping[str, object],
    created_by: User | None = None,
    now: datetime,
) -> tuple[LabelSetVersion, bool]:
    """Store a label set from file data; returns (version, created).

    Idempotent: a new version is appended only when the schema differs from
    the latest one, otherwise the latest version comes back with created=False.
    The label set's description is updated in place (it is not versioned).
    A dump's `version` key is informational: numbers are assigned here.
    Raises SchemaError (with the path of the bad key; SchemaErrors with
    each of them) for malformed data, before anything is written.

    `created_by` is the uploader (the browser); None for a migration or the
    command. A new label set records them; an existing one takes a version
    from them only if labelset_version_allowed, else ValidationError (code
    `not_yours`), nothing written.
    """
    parsed = labelset_parse(data)
    name, description, schema = parsed.name, parsed.description, parsed.schema

    # The row lock serialises concurrent loads of one label set, so two of
    # them cannot both append the same version number.
    label_set, _ = LabelSet.objects.select_for_update().get_or_create(
        name=name,
        defaults={
            "description": description,
            "created_at": now,
            "created_by": created_by,
        },
    )
    _version_allowed_check(label_set, created_by)
    if label_set.description != description:
        label_set.description = description
        label_set.save(update_fields=["description"])

    latest = label_set.versions.order_by("-number").first()
    if latest is not None and latest.schema == schema:
        return latest, False
    version = LabelSetVersion.objects.create(
        label_set=label_set,
        number=1 if latest is None else latest.number + 1,
        # Stored with defaults resolved, so a version keeps its meaning (its
        # hotkeys, say) even if parse_schema's defaults change later.
        schema_data=schema_to_data(schema),
        created_at=now,
    )
    return version, True


def labelset_dump(*, version: LabelSetVersion) -> dict[str, object]:
    """File data for one version; `labelset_load` of it reports it unchanged."""
    return {
        "name": version.label_set.name,
        "description": version.label_set.description,
        "version": version.number,
        **schema_to_data(version.schema),
    }


_EXTENSIONS = (".json", ".yaml", ".yml")


class _Loader(yaml.SafeLoader):
    """YAML without aliases. A label set has no use for them, and a file of
    aliases to aliases (a "billion laughs") is a few kilobytes that expand
    to millions of fields and options once walked, checked or stored."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in a label set file: write each value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load_labelset_file(path: str | Path) -> dict[str, object]:
    """Read a label set file from disk (labelset_file_parse has the rules).

    Raises SchemaError as labelset_file_parse does; OSError if it cannot be read.
    """
    path = Path(path)
    _extension_check(path)  # before reading: a .txt is refused as such
    return labelset_file_parse(
        text=path.read_text(encoding="utf-8"), filename=path.name
    )


def labelset_file_parse(*, text: str, filename: str) -> dict[str, object]:
    """Parse a label set file's text: JSON or YAML by the file name's
    extension; with none, JSON if it starts with "{", else YAML. Another
    extension is refused.

    Raises SchemaError naming the file (and the line, where the parser gives
    one) when the file does not parse or is not a mapping.
    """
    name = Path(filename).name
    suffix = _extension_check(Path(filename))
    # Each format is read as itself: YAML is nearly a superset of JSON, but
    # not quite (PyYAML reads 1e3 as a string), so a .json file is JSON.
    as_json = suffix == ".json" or (not suffix and text.lstrip().startswith("{"))
    try:
        data = json.loads(text) if as_json else yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except json.JSONDecodeError as e:
        raise SchemaError(f"{name}:{e.lineno}:{e.colno}", e.msg) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = getattr(e, "problem", None) or str(e)
        raise SchemaError(where, problem) from e
    if not isinstance(data, dict):
        raise SchemaError(
            name, f"must hold a mapping at the top, not {type(data).__name__}"
        )
    return data


def _extension_check(path: Path) -> str:
    """The file's extension, lower-cased; SchemaError unless JSON, YAML or none."""
    suffix = path.suffix.lower()
    if suffix and suffix not in _EXTENSIONS:
        raise SchemaError(
            path.name,
            f"a label set file is .json, .yaml or .yml, not {path.suffix}",
        )
    return suffix
