from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

JobState = Literal["queued", "running", "retrying", "failed", "done"]


class JobOut(BaseModel):
    job_id: str = Field(description="The job's id: what `POST /v1/ops/settlements` answers, and what log lines carry.")
    kind: str = Field(description="What the job does: `deliver_mail`, `settle`, `analyze_import`, `finalize_import`, ...")
    state: JobState = Field(description="queued -> running -> done; `retrying` between tries; `failed` once it will not run again unless replayed.")
    tries: int = Field(description="How many times a worker has started it.")
    last_error: str | None = Field(description="The last error's type and a sanitized message (never personal data).")
    request_id: str | None = Field(description="The `X-Request-ID` of the request that caused the job.")
    created_at: datetime
    started_at: datetime | None = Field(description="When its latest try started.")
    finished_at: datetime | None = Field(description="When its latest try ended (done, retrying or failed).")
    progress: dict[str, Any] | None = Field(description="What a long job (settlement, import finalize) has done so far.")
    result: Any | None = Field(default=None, description="What the job answered once done (counts and ids).")


class SettlementStatus(BaseModel):
    job_id: str
    state: JobState
    progress: dict[str, Any] | None = Field(
        description="While it runs: `phase` (build, send, poll, done) and `done` of `total` payouts of that phase."
    )
    result: dict[str, Any] | None = Field(
        description="Once done: payouts scheduled, transfers sent, paid, failed, returned, needs_attention, timings."
    )
    last_error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
