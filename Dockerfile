# Strongroom production image: gunicorn (web), Celery worker and beat all run from this one image;
# docker-compose.yml picks the command. Secrets arrive as files (see docs/operations.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The app runs as an unprivileged user. Its home is the data directory (the only writable place:
# beat's schedule, gunicorn's control socket); the code and static files stay root-owned, read-only.
RUN groupadd --system --gid 10001 strongroom \
 && useradd --system --uid 10001 --gid strongroom --home-dir /var/lib/strongroom --shell /usr/sbin/nologin strongroom \
 && install -d -o strongroom -g strongroom -m 0700 /var/lib/strongroom

WORKDIR /app

# Dependencies first (from pyproject.toml, the one source of them), so code changes rebuild fast.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Static files are collected at build time and served by whitenoise. Settings need a secret key
# and a data directory to load; both are throwaway here and never reach the image's runtime.
RUN STRONGROOM_SECRET_KEY=collectstatic-only-not-a-secret STRONGROOM_DATA_DIR=/tmp/build-data \
    python manage.py collectstatic --noinput --verbosity 0 \
 && rm -rf /tmp/build-data

ENV DJANGO_SETTINGS_MODULE=config.settings \
    STRONGROOM_DATA_DIR=/var/lib/strongroom

USER strongroom
EXPOSE 8000

# Health checks are set per service in docker-compose.yml (web: GET /healthz; worker: celery ping).
# config/gunicorn.py: gevent workers, header/body deadlines (the same file docker-compose.yml and
# `make run` use).
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py", "--bind", "0.0.0.0:8000"]
