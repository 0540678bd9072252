"""The availability tests reuse the sessions' cast: a New York practice, a provider with a ready client,
a colleague, an admin, and a clock the tests set."""

from tests.sessions.conftest import as_user, client_record, colleagues_client, frozen, group, owner  # noqa: F401


def provider_url(group, provider, *parts: object) -> str:
    return "/".join([f"/v1/groups/{group.id}/providers/{provider.id}", *map(str, parts)])
