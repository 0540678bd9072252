"""What ETags and parsed-request fingerprints cost per request, in process (no server, no database).

ETags (X6): every GET of a resource that is also written hashes its canonical JSON body (parse, sort keys,
SHA-256). Idempotency (X2): every POST sent with an Idempotency-Key canonicalises its body (JSON parsed and
sorted; multipart parsed, each file hashed) and keys the digest with HMAC-SHA256. Both run on the request's
path, so their cost is the figure here: microseconds per call, median of several rounds.

  python scripts/bench/bench_fingerprints.py
"""

from __future__ import annotations

import base64
import hashlib
import os
import statistics
import sys
import timeit
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("ENCRYPTION_KEYS", orjson.dumps([base64.b64encode(b"k" * 32).decode()]).decode())

import httpx  # noqa: E402

from app.core import crypto  # noqa: E402
from app.core.etags import etag_of  # noqa: E402
from app.core.request_fingerprint import canonical_request  # noqa: E402

CLIENT = orjson.dumps({
    "id": "6f1c1d5e-2b1e-4c1a-9d55-3c1f0d8e9a11", "first_name": "Casey", "last_name": "Client", "email": "casey@example.com",
    "phone": "+12125550123", "billing_type": "insurance", "status": "active", "telehealth_state": "NY",
    "providers": [{"user_id": "0c5e1f7a-9c1b-4a0e-8f53-7b6d8e2c1a90", "name": "Pat Provider"}],
    "readiness": {"ready": False, "missing": ["insurance", "billing_method", "consent_forms"]},
    "created_at": "2027-03-10T15:00:00Z",
})
RATES = orjson.dumps({"rates": [{"service_code": f"9{n:04d}", "provider_user_id": None, "private_pay_cents": 15000,
                                 "insurance_cents": 11200, "currency": "USD"} for n in range(200)]})


def multipart(size: int) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://x/", files={"file": ("notes.pdf", os.urandom(size), "application/pdf")},
                            data={"category": "clinical"})
    return request.headers["content-type"], request.read()


def per_call_us(call, rounds: int = 5) -> float:
    number = 1
    while timeit.timeit(call, number=number) < 0.05:
        number *= 2
    return statistics.median(timeit.timeit(call, number=number) / number for _ in range(rounds)) * 1e6


def main() -> None:
    small_mp, large_mp = multipart(100_000), multipart(25 * 1_048_576)
    cases = {
        f"ETag of a client ({len(CLIENT)} B)": lambda: etag_of(CLIENT),
        f"ETag of 200 rates ({len(RATES):,} B)": lambda: etag_of(RATES),
        "fingerprint: JSON client create": lambda: crypto.keyed_digest(
            canonical_request("POST", "/v1/groups/x/clients", [], "application/json", CLIENT), purpose="idempotency"),
        "fingerprint: the raw bytes (before)": lambda: crypto.keyed_digest(b"POST\0/v1/groups/x/clients\0" + CLIENT, purpose="idempotency"),
        "fingerprint: multipart, 100 KB file": lambda: canonical_request("POST", "/d", [], small_mp[0], small_mp[1]),
        "fingerprint: multipart, 25 MB file": lambda: canonical_request("POST", "/d", [], large_mp[0], large_mp[1]),
        "SHA-256 of the 200 rates' bytes (floor)": lambda: hashlib.sha256(RATES).digest(),
        "SHA-256 of the same 25 MB (floor)": lambda: hashlib.sha256(large_mp[1]).digest(),
    }
    width = max(map(len, cases))
    print(f"{'case':<{width}}  µs/call")
    for name, call in cases.items():
        print(f"{name:<{width}}  {per_call_us(call):>10,.1f}")


if __name__ == "__main__":
    main()
