"""A partner's webhook receiver for bench_webhooks.py: answers every POST 200 after 50 ms (BENCH_RECEIVER_DELAY_MS)."""

import asyncio
import os

DELAY_S = int(os.environ.get("BENCH_RECEIVER_DELAY_MS", "50")) / 1000


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await asyncio.sleep(DELAY_S)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
