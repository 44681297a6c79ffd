"""gunicorn's settings in production: docker-compose.yml's web service and the
benchmarks run `gunicorn -c python:annotate.gunicorn_conf annotate.wsgi`, so
what is measured is what is deployed. Flags on the command line win.
"""

from __future__ import annotations

bind = "0.0.0.0:8000"
# One process per core (the 2-core VM the benchmarks run on: set more for
# more cores), each with threads, so one request's wait on PostgreSQL is
# another's turn at the GIL, and connections stay open between an
# annotator's claim and submit (sync workers close every one). Measured
# with bench/loop.py, 32 annotators, 1,200 loops on 100k items, one run
# each on the shared box: 3 sync workers cost 13.8 ms of gunicorn CPU and
# 1.2 ms of client per loop, 2 x 4 gthread 12.5 ms and 0.9 ms. Each thread
# keeps its own database connection (CONN_MAX_AGE), 8 in all.
workers = 2
threads = 4
worker_class = "gthread"
# Request lines past 8190 bytes (a URL of thousands of ids) are refused by
# gunicorn itself, as its default does; said here so that it is one place.
limit_request_line = 8190
# Longer than the gap between an annotator's claim and submit on one
# keep-alive connection, so the server never closes one a client reuses.
keepalive = 30


def post_worker_init(worker: object) -> None:
    """Move what the app loaded at start into the collector's permanent
    generation (gc.freeze), so a full collection scans only the requests'
    own objects. Without it each of a worker's 5-6 full collections in a load
    test run held the GIL for 60-106 ms (about 130,000 objects), stalling all
    its threads' requests at once; frozen, they take 4-11 ms."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - loads the views' modules, to freeze them too
    gc.collect()
    gc.freeze()
