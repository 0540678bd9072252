"""Fixtures: a real PostgreSQL test database (migrated once), real Redis, the app in process.

Each test runs inside one outer transaction that is rolled back at the end; the app's request
transactions become savepoints inside it. Tests that need real commits (workers, races) use the
`committed` fixtures in tests/fixtures/live.py, which clean up after themselves.
"""

import os
import tempfile
from pathlib import Path

# Settings are read once: point them at test resources before the app is imported.
_mail_dir = tempfile.mkdtemp(prefix="caseload-test-mail-")
os.environ.update(ENVIRONMENT="test", MAIL_BACKEND="file", MAIL_DIR=_mail_dir, LOG_LEVEL="WARNING")

from tests.fixtures.services import prepare_test_services  # noqa: E402

prepare_test_services(Path(__file__).resolve().parent.parent / ".data" / "test-services")

if os.environ.get("CASELOAD_TEST_STORAGE") == "s3":
    # O2: every file of the run in a bucket of a real S3-protocol server (moto), not a directory.
    import atexit

    from tests.fixtures.s3 import MotoServer

    _moto = MotoServer().start()
    atexit.register(_moto.stop)
    _moto.create_bucket()
    os.environ.update(_moto.settings_env(prefix="run"))

pytest_plugins = ["tests.fixtures.database", "tests.fixtures.app", "tests.fixtures.live", "tests.fixtures.cast"]
