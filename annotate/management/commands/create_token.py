from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.services.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print its key, once: only its hash "
        "is kept. Revoke tokens on the profile page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--name", default="Command line", help="to tell the user's tokens apart"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        try:
            token, key = api_token_create(
                user=user, name=options["name"], now=timezone.now()
            )
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from None
        self.stderr.write(f"Token {token.name!r} for {user.username} (shown once):")
        self.stdout.write(key)
