# syntax=docker/dockerfile:1
# The API image: dependencies from the hash-checked lock, the app as source, run as a non-root user.
#   docker build -t caseload .
#   docker run -e DATABASE_URL=... -e REDIS_URL=... -e ENCRYPTION_KEYS='["..."]' -p 8000:8000 caseload
# The same image runs the worker (`worker`) and migrations (`migrate`).

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/srv/caseload PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production MAIL_BACKEND=smtp DATA_DIR=/var/lib/caseload
RUN useradd --system --uid 10001 --home-dir /srv/caseload caseload \
    && mkdir -p /var/lib/caseload && chown caseload /var/lib/caseload
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/caseload
COPY alembic.ini pyproject.toml ./
COPY migrations ./migrations
COPY app ./app
USER caseload
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
ENTRYPOINT ["python", "-m", "app.cli"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
