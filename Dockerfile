# refusal-annotate web / Celery image (docker-compose.yml runs web, worker and beat from it).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPENBLAS_NUM_THREADS=1 \
    VAR_DIR=/app/var

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not
# reinstall them: a stub package stands in for the code in this layer.
# (README.md is optional: pyproject.toml names it, so an empty one stands in.)
COPY pyproject.toml README.md* ./
RUN touch README.md \
    && mkdir annotate labelsets \
    && touch annotate/__init__.py labelsets/__init__.py \
    && pip install . \
    && pip uninstall -y refusal-annotate \
    && rm -rf annotate labelsets build ./*.egg-info

# The project itself, installed editable so annotate/ and labelsets/ import from
# /app, where settings.py finds templates/ and static/ beside them.
COPY manage.py ./
COPY annotate ./annotate
COPY labelsets ./labelsets
COPY templates ./templates
COPY static ./static
RUN pip install --no-deps -e .

# Static files are collected at build time (whitenoise serves them); settings
# refuse to load without SECRET_KEY when DEBUG is off, so a dummy one is given.
RUN SECRET_KEY=collectstatic-build-only DEBUG=false python manage.py collectstatic --no-input -v 0

# Run as an unprivileged user; only var/ (media, beat schedule) is writable.
RUN useradd --system --uid 1000 --home-dir /app app \
    && mkdir -p /app/var/media \
    && chown -R app:app /app/var
USER app

EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --no-input && exec gunicorn -c python:annotate.gunicorn_conf annotate.wsgi:application"]
