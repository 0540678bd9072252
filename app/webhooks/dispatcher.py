"""Sends pending webhook deliveries: run by every worker process, safe to run in many at once.

A round claims due deliveries with `FOR UPDATE SKIP LOCKED` and stamps a lease on them (committed at once),
so two dispatchers never take the same delivery and one that dies lets its deliveries go when the lease ends.
It then POSTs them, at most `per_endpoint` at a time to one endpoint, and records each outcome: success, or a
retry later (exponential backoff with jitter) until the delivery is three days old. An endpoint failing
without a success for long enough is disabled and the group's owner and admins are told by mail.
"""

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.core import crypto
from app.core.mail import send_mail
from app.webhooks.backoff import retry_delay
from app.webhooks.destinations import RefusedDestination, check_destination
from app.webhooks.events import payload
from app.webhooks.signing import HEADER, signature_header

log = structlog.get_logger("caseload.webhooks")
SECRET_PURPOSE = "webhook_secret"
EXCERPT_CHARS = 500

# Due deliveries of enabled endpoints, at most `per_endpoint` of each endpoint, oldest due first.
_CLAIM = text(
    """
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now()
          AND (d.lease_until IS NULL OR d.lease_until < now()) AND e.enabled
        ORDER BY d.next_attempt_at
        LIMIT :scan
        FOR UPDATE OF d SKIP LOCKED
    ), ranked AS (
        SELECT d.id, row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at) AS n
        FROM webhook_deliveries d JOIN due ON due.id = d.id
    )
    UPDATE webhook_deliveries d SET lease_until = now() + make_interval(secs => :lease_s)
    FROM ranked, webhook_events ev, webhook_endpoints e
    WHERE d.id = ranked.id AND ranked.n <= :per_endpoint AND ev.id = d.event_id AND e.id = d.endpoint_id
    RETURNING d.id, d.endpoint_id, d.attempts, d.created_at AS delivery_created_at,
              ev.id AS event_id, ev.type, ev.group_id, ev.object_id, ev.sequence, ev.data, ev.created_at,
              e.url, e.secret_encrypted, e.previous_secret_encrypted, e.previous_secret_expires_at
    """
)


@dataclass(slots=True)
class Outcome:
    delivery_id: int
    endpoint_id: uuid.UUID
    ok: bool
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None
    give_up: bool = False
    retry_in_s: float = 0.0


@dataclass
class Dispatcher:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    batch: int = 500
    lease_s: float = 60.0
    retry_base_s: float | None = None
    # Rounds running at once in `run_forever`: a round waits for its slowest delivery, so several keep the
    # per-endpoint bound busy while one waits.
    lanes: int = 4
    _limits: dict[uuid.UUID, asyncio.Semaphore] = field(default_factory=dict)
    _http: aiohttp.ClientSession | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.per_endpoint = s.webhook_concurrency_per_endpoint
        self.retry_base_s = self.retry_base_s if self.retry_base_s is not None else s.webhook_retry_base_s
        self.allow_private = s.environment in ("development", "test")

    def _client(self) -> aiohttp.ClientSession:
        # aiohttp rather than httpx here: a worker sends hundreds of POSTs a second, and aiohttp's C parser
        # spends a fraction of the CPU per request. Made on first use: it belongs to the running event loop.
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=60),
                timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout_s),
                auto_decompress=False, trust_env=False,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def run_once(self) -> int:
        """One round: claim, send, record. Returns how many deliveries were attempted."""
        async with self.sessionmaker() as db:
            rows = (await db.execute(
                _CLAIM, {"scan": self.batch, "lease_s": self.lease_s, "per_endpoint": self.per_endpoint}
            )).mappings().all()
            await db.commit()
        if not rows:
            return 0
        outcomes = await asyncio.gather(*(self._send(row) for row in rows))
        await self._record(outcomes)
        return len(outcomes)

    async def run_forever(self, stop: asyncio.Event, *, idle_s: float = 0.5) -> None:
        await asyncio.gather(*(self._lane(stop, idle_s) for _ in range(self.lanes)))

    async def _lane(self, stop: asyncio.Event, idle_s: float) -> None:
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception as exc:  # the database away: try again shortly, the leases keep deliveries safe
                log.warning("webhook_dispatch_failed", error_type=type(exc).__name__)
                sent = 0
            if not sent:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle_s)
                except TimeoutError:
                    pass

    def _secrets(self, row: Any) -> list[str]:
        found = [crypto.decrypt(row["secret_encrypted"], purpose=SECRET_PURPOSE)]
        expires = row["previous_secret_expires_at"]
        if row["previous_secret_encrypted"] is not None and expires is not None and expires > _now():
            found.append(crypto.decrypt(row["previous_secret_encrypted"], purpose=SECRET_PURPOSE))
        return found

    async def _send(self, row: Any) -> Outcome:
        limit = self._limits.setdefault(row["endpoint_id"], asyncio.Semaphore(self.per_endpoint))
        body = orjson.dumps(payload(
            event_id=row["event_id"], event_type=row["type"], group_id=row["group_id"], object_id=row["object_id"],
            sequence=row["sequence"], data=row["data"], created_at=row["created_at"],
        ))
        status_code = excerpt = error = None
        async with limit:
            started = time.perf_counter()
            try:
                await check_destination(row["url"], allow_private=self.allow_private)
                timestamp = int(time.time())
                async with self._client().post(row["url"], data=body, allow_redirects=False, headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Caseload-Webhooks/1",
                    HEADER: signature_header(self._secrets(row), timestamp, body),
                    "Caseload-Event-Id": str(row["event_id"]),
                    "Caseload-Event-Type": row["type"],
                    "Caseload-Delivery-Id": str(row["id"]),
                }) as response:
                    status_code = response.status
                    # The start of the answer only: a receiver's error page can be large.
                    excerpt = (await response.content.read(EXCERPT_CHARS * 4)).decode("utf-8", "replace")[:EXCERPT_CHARS]
            except RefusedDestination as exc:
                error = f"refused: {exc.reason}"
            except TimeoutError:
                error = "timeout"
            except aiohttp.ClientConnectorError:
                error = "connect_failed"
            except (aiohttp.ClientError, OSError) as exc:
                error = type(exc).__name__
            latency_ms = int((time.perf_counter() - started) * 1000)
        ok = status_code is not None and 200 <= status_code < 300
        outcome = Outcome(row["id"], row["endpoint_id"], ok, status_code, latency_ms, excerpt, error)
        if not ok:
            age_s = (_now() - row["delivery_created_at"]).total_seconds()
            assert self.retry_base_s is not None
            outcome.retry_in_s = retry_delay(row["attempts"] + 1, base_s=self.retry_base_s)
            outcome.give_up = age_s + outcome.retry_in_s > self.settings.webhook_give_up_hours * 3600
        return outcome

    async def _record(self, outcomes: list[Outcome]) -> None:
        async with self.sessionmaker() as db:
            await db.execute(
                text(
                    """
                    UPDATE webhook_deliveries SET
                        attempts = attempts + 1, lease_until = NULL, last_attempt_at = now(),
                        last_status_code = :status_code, last_latency_ms = :latency_ms,
                        last_response_excerpt = :excerpt, last_error = :error,
                        status = CASE WHEN :ok THEN 'succeeded' WHEN :give_up THEN 'failed' ELSE 'pending' END,
                        delivered_at = CASE WHEN :ok THEN now() END,
                        next_attempt_at = CASE WHEN :ok OR :give_up THEN next_attempt_at
                                               ELSE now() + make_interval(secs => :retry_in_s) END
                    WHERE id = :delivery_id
                    """
                ),
                [
                    {"delivery_id": o.delivery_id, "status_code": o.status_code, "latency_ms": o.latency_ms,
                     "excerpt": o.excerpt, "error": o.error, "ok": o.ok, "give_up": o.give_up, "retry_in_s": o.retry_in_s}
                    for o in outcomes
                ],
            )
            disabled = await self._endpoint_health(db, outcomes)
            for endpoint_id, group_id in disabled:
                await _tell_admins(db, endpoint_id, group_id)
            await db.commit()
        failed = sum(not o.ok for o in outcomes)
        if failed:
            log.info("webhook_deliveries_failed", count=failed, attempted=len(outcomes))

    async def _endpoint_health(self, db: AsyncSession, outcomes: list[Outcome]) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Count consecutive failures per endpoint; disable those failing long enough. Returns (endpoint, group)."""
        by_endpoint: dict[uuid.UUID, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            by_endpoint[o.endpoint_id].append(o)
        disabled = []
        for endpoint_id, results in sorted(by_endpoint.items()):  # a fixed order: no deadlock between dispatchers
            succeeded = any(o.ok for o in results)
            failures = sum(not o.ok for o in results) if not succeeded else 0
            row = (await db.execute(
                text(
                    """
                    UPDATE webhook_endpoints SET
                        consecutive_failures = CASE WHEN :succeeded THEN 0 ELSE consecutive_failures + :failures END,
                        failing_since = CASE WHEN :succeeded THEN NULL ELSE coalesce(failing_since, now()) END
                    WHERE id = :id
                    RETURNING group_id, enabled, consecutive_failures, failing_since
                    """
                ),
                {"id": endpoint_id, "succeeded": succeeded, "failures": failures},
            )).one_or_none()
            if row is None or not row.enabled or succeeded:
                continue
            hours = self.settings.webhook_disable_after_hours
            if row.consecutive_failures >= self.settings.webhook_disable_after_failures and row.failing_since is not None:
                sustained = await db.scalar(
                    text("SELECT :since <= now() - make_interval(secs => :secs)"),
                    {"since": row.failing_since, "secs": hours * 3600},
                )
                if sustained:
                    await db.execute(
                        text("UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason, updated_at = now() WHERE id = :id"),
                        {"id": endpoint_id, "reason": f"{row.consecutive_failures} failed deliveries in a row since "
                                                      f"{row.failing_since.isoformat()}"},
                    )
                    log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint_id))
                    disabled.append((endpoint_id, row.group_id))
        return disabled


def _now() -> datetime:
    return datetime.now(UTC)


async def _tell_admins(db: AsyncSession, endpoint_id: uuid.UUID, group_id: uuid.UUID) -> None:
    admins = (await db.execute(
        text(
            """
            SELECT u.email, g.name FROM memberships m JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id
            WHERE m.group_id = :group_id AND m.ended_at IS NULL AND (m.is_owner OR m.is_admin)
            """
        ),
        {"group_id": group_id},
    )).all()
    for email, group_name in admins:
        await send_mail(
            db, to=email, template="webhook_endpoint_disabled",
            subject="A Caseload webhook endpoint was turned off",
            body=(
                f"Deliveries to a webhook endpoint of {group_name} (endpoint {endpoint_id}) have failed without a "
                "success for more than a day, so we stopped sending to it; events that happen while it is off are not "
                "queued for it.\n\n"
                "Fix the receiver, then turn the endpoint back on with PATCH "
                f"/v1/groups/{group_id}/webhook-endpoints/{endpoint_id} {{\"enabled\": true}}; deliveries still "
                "waiting are sent then, and failed ones can be replayed from its delivery log.\n"
            ),
        )
