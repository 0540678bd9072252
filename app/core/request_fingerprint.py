"""What an Idempotency-Key is bound to: the request as the server understood it, not its bytes.

An honest retry may re-serialise its JSON (other key order, other whitespace) or send its multipart form
with a new boundary; both are the same request. So the fingerprint is taken over a canonical form:
- JSON: sorted keys, no whitespace;
- multipart: each part's name and, for a file, its file name, media type and SHA-256 (not its bytes);
- URL-encoded forms: the fields in order of name;
- anything else (or a body that does not parse as it claims): the bytes themselves.
Pure functions; the guard in core/idempotency.py keys the digest with a server secret.
"""

import hashlib
from urllib.parse import parse_qsl

import orjson
from python_multipart.multipart import MultipartParser, parse_options_header


def canonical_request(method: str, path: str, query: list[tuple[str, str]], content_type: str, body: bytes) -> bytes:
    media_type, options = parse_options_header(content_type)
    media = media_type.decode("latin-1").lower()
    head = orjson.dumps([method, path, sorted(query), media])
    return head + b"\0" + canonical_body(media, options, body)


def canonical_body(media: str, options: dict[bytes, bytes], body: bytes) -> bytes:
    if not body:
        return b""
    try:
        if media == "application/json" or media.endswith("+json"):
            return b"json\0" + orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
        if media == "multipart/form-data" and b"boundary" in options:
            return b"multipart\0" + orjson.dumps(_multipart_parts(options[b"boundary"], body))
        if media == "application/x-www-form-urlencoded":
            fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            return b"form\0" + orjson.dumps(sorted(fields, key=lambda field: field[0]))
    except (orjson.JSONDecodeError, ValueError, UnicodeDecodeError):
        pass  # not what it claims to be: the bytes decide (the route will refuse it anyway)
    return b"raw\0" + body


def _multipart_parts(boundary: bytes, body: bytes) -> list[list[str]]:
    """[name, filename or "", media type or "", value or "sha256:<hex>"] per part, in order of name (stable)."""
    parts: list[list[str]] = []
    headers: dict[bytes, bytes] = {}
    field: list[bytes] = []
    value: list[bytes] = []
    digest = hashlib.sha256()
    is_file = False
    complete = False

    def on_part_begin() -> None:
        nonlocal digest
        headers.clear()
        value.clear()
        digest = hashlib.sha256()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        headers[b"".join(field).lower()] = headers.get(b"".join(field).lower(), b"") + data[start:end]

    def on_header_end() -> None:
        field.clear()

    def on_headers_finished() -> None:
        nonlocal is_file
        is_file = b"filename" in parse_options_header(headers.get(b"content-disposition", b""))[1]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        # A file is kept as its hash only; a field's value is kept whole (fields are small).
        if is_file:
            digest.update(data[start:end])
        else:
            value.append(data[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if filename is None:
            parts.append([name, "", "", b"".join(value).decode("utf-8", "replace")])
        else:
            media = headers.get(b"content-type", b"").decode("latin-1").lower()
            parts.append([name, filename.decode("utf-8", "replace"), media, "sha256:" + digest.hexdigest()])

    def on_end() -> None:
        nonlocal complete
        complete = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        },  # type: ignore[arg-type]
    )
    parser.write(body)
    parser.finalize()
    if not complete:
        raise ValueError("truncated multipart body")
    return sorted(parts, key=lambda part: part[0])
