"""Helpers shared by the management commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from annotate.inputs import whole_number
from annotate.models import Project
from annotate.services.imports import ImportRejected


def project_by_name_or_id(value: str) -> Project:
    """A project by exact name, or by id when the value is a number."""
    project = Project.objects.filter(name=value).first()
    if project is None and (number := whole_number(value)) is not None:
        project = Project.objects.filter(pk=number).first()
    if project is None:
        raise CommandError(f"No project named {value!r}.")
    return project


def flags_error(error: ValidationError, flags: Mapping[str, str]) -> CommandError:
    """A service's input errors in the command's words: each key as its flag
    (`flags`, else --the-key), then its messages."""
    return CommandError(
        "; ".join(
            f"{flags.get(key, '--' + key.replace('_', '-'))}: {' '.join(messages)}"
            for key, messages in error.message_dict.items()
        )
    )


def settings_from_flags(pairs: list[str]) -> dict[str, str]:
    """NAME=VALUE flags as a mapping; the service checks the values."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"{pair!r}: give a setting as NAME=VALUE")
        settings[name.strip()] = value.strip()
    return settings


@contextmanager
def import_file(path: str, *, invalid: str = "") -> Iterator[BinaryIO]:
    """The file an import command reads, open; a file that cannot be opened,
    or an import that rejects it, is the command's error, every bad line
    listed under the file's name. Another ValidationError (the command's
    input) is the command's error too, after `invalid` (e.g. the flag)."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise CommandError(f"{path}: {e.strerror}") from e
    with stream:
        try:
            yield stream
        except ImportRejected as e:
            details = "\n".join(f"  {err}" for err in e.errors)
            raise CommandError(f"{path}: {e.message}\n{details}") from e
        except ValidationError as e:
            raise CommandError(invalid + " ".join(e.messages)) from e
