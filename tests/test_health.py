"""Operations: liveness and readiness."""

import httpx


async def test_healthz_answers_without_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_readyz_checks_database_and_redis(live_client: httpx.AsyncClient) -> None:
    response = await live_client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


async def test_readyz_is_503_when_redis_is_unreachable(live_client: httpx.AsyncClient, live_app) -> None:
    from redis.asyncio import Redis

    working = live_app.state.redis
    live_app.state.redis = Redis(host="127.0.0.1", port=1)  # nothing listens on port 1
    try:
        response = await live_client.get("/readyz")
    finally:
        await live_app.state.redis.aclose()
        live_app.state.redis = working
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_ready"
    assert response.json()["failing"] == ["redis"]
