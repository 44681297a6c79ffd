"""Database sessions read by one prepared statement (SESSION_ENGINE).

Every page reads its session, and Django's database store reads it through
the ORM: with the user's row (annotate.authentication.ModelBackend), 19% of
the web processes' CPU in the load test (a py-spy profile), as much as
rendering the item panel. Both prepared, an htmx claim in-process took 4.3
ms against 5.0 (medians of 500). Sessions are written as Django writes them."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.utils import timezone

from annotate import rawsql


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        # An unsafe key never reaches here: SessionBase makes it None.
        with rawsql.prepared_cursor() as cursor:
            cursor.execute(rawsql.SESSION_SQL, [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django's: a new one is made on save
            return {}
        data: dict[str, Any] = self.decode(row[0])
        return data
