# syntax=docker/dockerfile:1
# One image for every Constellation process: the web (the default command, Daphne), the watcher
# (`python manage.py watch_cluster`), migrations and the demo's simcluster. See docker-compose.yml
# and deploy/kubernetes/ for how each is started.

# Build stage: compilers live here only, in case a dependency has no wheel for this platform.
FROM python:3.11-slim AS builder
RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /wheels/requirements.txt
RUN pip wheel --no-cache-dir --wheel-dir /wheels --requirement /wheels/requirements.txt

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_DEBUG=false
# A fixed numeric UID, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent app
# Bind-mounting the wheels keeps them out of every layer of the final image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels --requirement /wheels/requirements.txt
WORKDIR /app
# The code stays owned by root: the app user can read it but not change it.
COPY . .
# The key only satisfies settings (DEBUG is off); collectstatic signs nothing with it.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input \
    && python -m compileall -q /app
# docker-compose.yml mounts a named volume here for simcluster's kubeconfig; a new volume copies
# this directory's owner, which lets the app user write to it.
RUN mkdir /shared && chown app:app /shared
USER 10001:10001
EXPOSE 8000
CMD ["python", "manage.py", "web", "-b", "0.0.0.0", "-p", "8000"]
