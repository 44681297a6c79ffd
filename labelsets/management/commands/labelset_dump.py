from __future__ import annotations

import json
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labelsets.models import LabelSetVersion
from labelsets.services import labelset_dump


class Command(BaseCommand):
    help = "Print a label set version (the latest unless --version) as YAML or JSON."

    def add_base_argument(
        self, parser: CommandParser, *args: Any, **kwargs: Any
    ) -> None:
        # Here --version picks a label set version; Django's own --version
        # (print Django's version) would clash with it.
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--version",
            type=int,
            dest="number",
            help="version number (default: the latest)",
        )
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")

    def handle(self, *args: Any, **options: Any) -> None:
        name, number = options["name"], options["number"]
        versions = LabelSetVersion.objects.select_related("label_set").filter(
            label_set__name=name
        )
        if number is not None:
            versions = versions.filter(number=number)
        version = versions.order_by("-number").first()
        if version is None:
            which = f"{name} v{number}" if number is not None else name
            raise CommandError(f"No label set {which}.")

        data = labelset_dump(version=version)
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            # sort_keys=False keeps the file in the order people write it.
            self.stdout.write(
                yaml.safe_dump(data, sort_keys=False, allow_unicode=True), ending=""
            )
