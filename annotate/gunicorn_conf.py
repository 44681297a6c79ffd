"""gunicorn's settings in production: docker-compose.yml's web service and the
benchmarks run `gunicorn -c python:annotate.gunicorn_conf annotate.wsgi`, so
what is measured is what is deployed. Flags on the command line win.
"""

from __future__ import annotations

bind = "0.0.0.0:8000"
workers = 3
# Request lines past 8190 bytes (a URL of thousands of ids) are refused by
# gunicorn itself, as its default does; said here so that it is one place.
limit_request_line = 8190
# Longer than the gap between an annotator's claim and submit on one
# keep-alive connection, so the server never closes one a client reuses.
keepalive = 30
