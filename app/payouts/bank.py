"""The payout rail: what settlement needs from a bank, and the simulated bank used by default.

A bank is idempotent on the transfer's key: sending the same key twice (a retried job, a second
worker, a crash between sending and recording) makes one transfer and answers its reference again.
That is what lets settlement commit per step and rerun safely (P5).
"""

import hashlib
import random
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import orjson
from redis.asyncio import Redis

from app.config import Settings

TransferState = Literal["in_transit", "paid", "failed"]
# Accounts whose last four digits are these always fail, with this reason: deterministic tests and demos.
CLOSED_ACCOUNT_LAST4 = "0000"
CLOSED_ACCOUNT_REASON = "account closed"
RANDOM_FAILURE_REASON = "transfer returned by the receiving bank (R01: insufficient funds)"
_KEY_PREFIX = "caseload:bank-sim:transfer:"
# Long enough for any poll to read the outcome; a real bank keeps its records for good.
_RETENTION_S = 90 * 24 * 3600


class BankError(Exception):
    """The bank refused the request itself (not a failed transfer): retry later."""


@dataclass(frozen=True, slots=True)
class Transfer:
    idempotency_key: str
    amount_cents: int
    currency: str
    routing_number: str
    account_number: str
    account_last4: str
    description: str


@dataclass(frozen=True, slots=True)
class TransferStatus:
    state: TransferState
    failure_reason: str | None = None


class Bank(Protocol):
    async def send(self, transfer: Transfer) -> str:
        """Start the transfer (or find the one already made with its key); return its reference."""
        ...

    async def status(self, reference: str) -> TransferStatus: ...


def reference_for(idempotency_key: str) -> str:
    return "simtr_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


class SimulatedBank:
    """Transfers kept in Redis, one key per idempotency key, created with SET NX.

    Two workers sending the same key race on one SET NX: one creates the transfer, the other reads
    it back. The full account number never reaches Redis, only its last four digits.
    """

    def __init__(self, redis: Redis, *, settle_seconds: float = 0.0, failure_rate: float = 0.0, rng: random.Random | None = None):
        self._redis = redis
        self._settle_seconds = settle_seconds
        self._failure_rate = failure_rate
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> "SimulatedBank":
        return cls(redis, settle_seconds=settings.bank_sim_settle_seconds, failure_rate=settings.bank_sim_failure_rate)

    async def send(self, transfer: Transfer) -> str:
        reference = reference_for(transfer.idempotency_key)
        if transfer.account_last4 == CLOSED_ACCOUNT_LAST4:
            outcome: str | None = CLOSED_ACCOUNT_REASON
        elif self._failure_rate and self._rng.random() < self._failure_rate:
            outcome = RANDOM_FAILURE_REASON
        else:
            outcome = None
        record = {
            "key": transfer.idempotency_key,
            "amount_cents": transfer.amount_cents,
            "currency": transfer.currency,
            "account_last4": transfer.account_last4,
            "settles_at": time.time() + self._settle_seconds,
            "failure_reason": outcome,
        }
        created = await self._redis.set(_KEY_PREFIX + reference, orjson.dumps(record), nx=True, ex=_RETENTION_S)
        if not created:
            existing = await self._redis.get(_KEY_PREFIX + reference)
            if existing is None:  # expired between the two calls: not for a transfer still in flight
                raise BankError("transfer record vanished; retry")
            first = orjson.loads(existing)
            # As real payment APIs do: one key, one request. Another amount under the same key is a bug.
            if first["amount_cents"] != transfer.amount_cents or first["account_last4"] != transfer.account_last4:
                raise BankError("idempotency key reused with a different transfer")
        return reference

    async def status(self, reference: str) -> TransferStatus:
        raw = await self._redis.get(_KEY_PREFIX + reference)
        if raw is None:
            raise BankError(f"unknown transfer {reference}")
        record = orjson.loads(raw)
        if time.time() < record["settles_at"]:
            return TransferStatus("in_transit")
        if record["failure_reason"]:
            return TransferStatus("failed", record["failure_reason"])
        return TransferStatus("paid")

    async def transfers(self) -> list[dict]:
        """Every transfer the simulated bank holds (tests and benchmarks count them)."""
        found = []
        async for key in self._redis.scan_iter(match=_KEY_PREFIX + "*", count=1000):
            raw = await self._redis.get(key)
            if raw is not None:
                found.append(orjson.loads(raw))
        return found


def bank_from_settings(redis: Redis, settings: Settings) -> Bank:
    """The configured payout rail; the simulated bank is the only one so far (and the default)."""
    return SimulatedBank.from_settings(redis, settings)
