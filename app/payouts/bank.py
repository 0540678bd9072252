"""The payout rail: what settlement needs from a bank, and the simulated bank used by default.

A bank is idempotent on the transfer's key: sending the same key twice (a retried job, a second
worker, a crash between sending and recording) makes one transfer and answers its reference again.
That is what lets settlement commit per step and rerun safely (P5).
"""

import hashlib
import random
import time
from collections.abc import Sequence
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
_RETURNS_KEY = "caseload:bank-sim:returns"  # reference -> reason, until acknowledged
# Long enough for any poll to read the outcome; a real bank keeps its records for good.
_RETENTION_S = 90 * 24 * 3600


# SET key value NX EX ttl for each key in turn; 1 where the key was created, 0 where it existed.
_SET_NX_EACH = """
local ttl = ARGV[#ARGV]
local created = {}
for i, key in ipairs(KEYS) do
    created[i] = redis.call('SET', key, ARGV[i], 'NX', 'EX', ttl) and 1 or 0
end
return created
"""


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


@dataclass(frozen=True, slots=True)
class ReturnedTransfer:
    """A transfer the bank reported paid and then took back (P9), with the bank's reason."""

    reference: str
    reason: str


class Bank(Protocol):
    """Batched, as settlement calls it: one round trip per batch of payouts.

    Each item stands alone: a refusal of one (a BankError in its place) leaves the others sent.
    """

    async def send_many(self, transfers: Sequence[Transfer]) -> list[str | BankError]:
        """Start each transfer (or find the one already made with its key): its reference, in order."""
        ...

    async def status_many(self, references: Sequence[str]) -> list[TransferStatus | BankError]:
        """Where each transfer stands, in order."""
        ...

    async def returns(self, limit: int) -> list[ReturnedTransfer]:
        """Returns reported and not yet acknowledged (as banks deliver return files): at most `limit`."""
        ...

    async def acknowledge_returns(self, references: Sequence[str]) -> None:
        """These returns are recorded: the bank stops reporting them. Until then they are reported again."""
        ...


def reference_for(idempotency_key: str) -> str:
    return "simtr_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


class SimulatedBank:
    """Transfers kept in Redis, one key per idempotency key, created with SET NX.

    A batch is one round trip: a server-side script doing SET NX for each key in turn (idempotency
    stays per transfer; the script only saves sending thousands of commands), then, for the keys that
    already existed, one MGET to check that the same transfer is asked again.
    Two workers sending the same key race on one SET NX: one creates the transfer, the other reads it
    back. The full account number never reaches Redis, only its last four digits.
    """

    def __init__(
        self, redis: Redis, *, settle_seconds: float = 0.0, failure_rate: float = 0.0, rng: random.Random | None = None,
        return_window_days: int = 14,
    ):
        self._redis = redis
        self._return_window_s = return_window_days * 86400
        self._settle_seconds = settle_seconds
        self._failure_rate = failure_rate
        self._rng = rng or random.Random()
        self._set_nx = redis.register_script(_SET_NX_EACH)

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> "SimulatedBank":
        return cls(redis, settle_seconds=settings.bank_sim_settle_seconds, failure_rate=settings.bank_sim_failure_rate,
                   return_window_days=settings.bank_return_window_days)

    def _outcome(self, transfer: Transfer) -> str | None:
        if transfer.account_last4 == CLOSED_ACCOUNT_LAST4:
            return CLOSED_ACCOUNT_REASON
        if self._failure_rate and self._rng.random() < self._failure_rate:
            return RANDOM_FAILURE_REASON
        return None

    async def send_many(self, transfers: Sequence[Transfer]) -> list[str | BankError]:
        if not transfers:
            return []
        settles_at = time.time() + self._settle_seconds
        references = [reference_for(t.idempotency_key) for t in transfers]
        records = [
            orjson.dumps({
                "key": transfer.idempotency_key,
                "amount_cents": transfer.amount_cents,
                "currency": transfer.currency,
                "account_last4": transfer.account_last4,
                "settles_at": settles_at,
                "failure_reason": self._outcome(transfer),
            })
            for transfer in transfers
        ]
        created = await self._set_nx(keys=[_KEY_PREFIX + r for r in references], args=[*records, _RETENTION_S])
        answers: list[str | BankError] = list(references)
        known = [i for i, made in enumerate(created) if not made]
        if known:
            existing = await self._redis.mget([_KEY_PREFIX + references[i] for i in known])
            for i, raw in zip(known, existing, strict=True):
                if raw is None:  # expired between the two calls: not for a transfer still in flight
                    answers[i] = BankError("transfer record vanished; retry")
                    continue
                first = orjson.loads(raw)
                # As real payment APIs do: one key, one request. Another amount under the same key is a bug.
                if first["amount_cents"] != transfers[i].amount_cents or first["account_last4"] != transfers[i].account_last4:
                    answers[i] = BankError("idempotency key reused with a different transfer")
        return answers

    async def status_many(self, references: Sequence[str]) -> list[TransferStatus | BankError]:
        if not references:
            return []
        raws = await self._redis.mget([_KEY_PREFIX + reference for reference in references])
        now = time.time()
        answers: list[TransferStatus | BankError] = []
        for reference, raw in zip(references, raws, strict=True):
            if raw is None:
                answers.append(BankError(f"unknown transfer {reference}"))
                continue
            record = orjson.loads(raw)
            if now < record["settles_at"]:
                answers.append(TransferStatus("in_transit"))
            elif record["failure_reason"]:
                answers.append(TransferStatus("failed", record["failure_reason"]))
            else:
                answers.append(TransferStatus("paid"))
        return answers

    async def return_transfer(self, reference: str, reason: str, *, now: float | None = None) -> None:
        """The receiving bank sends a paid transfer back (P9): tests, demos and drills call this.

        Only a paid transfer can come back, and only within the return window after it settled.
        """
        raw = await self._redis.get(_KEY_PREFIX + reference)
        if raw is None:
            raise BankError(f"unknown transfer {reference}")
        record = orjson.loads(raw)
        now = time.time() if now is None else now
        if record["failure_reason"] or now < record["settles_at"]:
            raise BankError("only a paid transfer can be returned")
        if now > record["settles_at"] + self._return_window_s:
            raise BankError("the return window of this transfer has passed")
        await self._redis.hset(_RETURNS_KEY, reference, reason)

    async def returns(self, limit: int) -> list[ReturnedTransfer]:
        found: list[ReturnedTransfer] = []
        async for reference, reason in self._redis.hscan_iter(_RETURNS_KEY, count=limit):
            found.append(ReturnedTransfer(_text(reference), _text(reason)))
            if len(found) >= limit:
                break
        return found

    async def acknowledge_returns(self, references: Sequence[str]) -> None:
        if references:
            await self._redis.hdel(_RETURNS_KEY, *references)

    async def send(self, transfer: Transfer) -> str:
        """One transfer (a batch of one); raises the bank's refusal."""
        [answer] = await self.send_many([transfer])
        if isinstance(answer, BankError):
            raise answer
        return answer

    async def status(self, reference: str) -> TransferStatus:
        [answer] = await self.status_many([reference])
        if isinstance(answer, BankError):
            raise answer
        return answer

    async def transfers(self) -> list[dict]:
        """Every transfer the simulated bank holds (tests and benchmarks count them)."""
        found = []
        async for key in self._redis.scan_iter(match=_KEY_PREFIX + "*", count=1000):
            raw = await self._redis.get(key)
            if raw is not None:
                found.append(orjson.loads(raw))
        return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def bank_from_settings(redis: Redis, settings: Settings) -> Bank:
    """The configured payout rail; the simulated bank is the only one so far (and the default)."""
    return SimulatedBank.from_settings(redis, settings)
