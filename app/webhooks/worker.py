"""The webhook dispatcher in each worker process: a loop beside arq's jobs, started and stopped with it.

A loop rather than a cron job: deliveries go out within a second of their commit, and every worker process
sends (claims never overlap), so throughput grows with the workers.
"""

import asyncio
from typing import Any

from app.webhooks.dispatcher import Dispatcher


def start_dispatcher(ctx: dict[str, Any]) -> None:
    dispatcher = Dispatcher(ctx["sessionmaker"], ctx["settings"])
    stop = asyncio.Event()
    ctx["webhooks"] = (dispatcher, stop, asyncio.create_task(dispatcher.run_forever(stop)))


async def stop_dispatcher(ctx: dict[str, Any]) -> None:
    running = ctx.pop("webhooks", None)
    if running is None:
        return
    dispatcher, stop, task = running
    stop.set()
    try:
        await asyncio.wait_for(task, timeout=15)  # the round in flight finishes and records its outcomes
    except TimeoutError:
        task.cancel()
    await dispatcher.aclose()
