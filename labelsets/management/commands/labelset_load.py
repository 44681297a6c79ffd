from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from labelsets.schema import SchemaError
from labelsets.services import labelset_load, load_labelset_file


class Command(BaseCommand):
    help = "Load a label set from a YAML or JSON file; a changed schema becomes a new version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            version, created = labelset_load(
                now=timezone.now(), data=load_labelset_file(path)
            )
        except SchemaError as e:
            raise CommandError(f"{path}: {e}") from e
        except OSError as e:
            raise CommandError(f"{path}: {e.strerror or e}") from e
        name = version.label_set.name
        if created:
            self.stdout.write(f"Loaded {name} v{version.number}")
        else:
            self.stdout.write(f"{name} unchanged (v{version.number})")
