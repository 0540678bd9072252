#!/usr/bin/env python3
"""The two commands of the README, on a machine with nothing but Python 3.11:

    python3 bootstrap.py dev    install into .venv, then run everything (`caseload dev`)
    python3 bootstrap.py test   install into .venv, then run the whole test suite (pytest)

Installs exactly what requirements-dev.lock pins (hash-checked), and only when the lock changed.
Arguments after the command go to `caseload dev` or to pytest.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CASELOAD_VENV", ROOT / ".venv"))
LOCK = ROOT / "requirements-dev.lock"


def venv_bin(name: str) -> str:
    return str(VENV / ("Scripts" if os.name == "nt" else "bin") / name)


def install() -> None:
    stamp = VENV / ".caseload-installed"
    wanted = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not (VENV / "pyvenv.cfg").exists():
        print(f"bootstrap: creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    print("bootstrap: installing the locked dependencies (first run takes a minute)", flush=True)
    pip = [venv_bin("python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    stamp.write_text(wanted)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("dev", "test"):
        sys.exit(__doc__)
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"bootstrap: Python 3.11 is required (this is {sys.version.split()[0]})")
    install()
    command, rest = sys.argv[1], sys.argv[2:]
    os.chdir(ROOT)
    if command == "dev":
        os.execv(venv_bin("caseload"), [venv_bin("caseload"), "dev", *rest])
    os.execv(venv_bin("python"), [venv_bin("python"), "-m", "pytest", *rest])


if __name__ == "__main__":
    main()
