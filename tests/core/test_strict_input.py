"""Strict input: rule X5 (no silent conversion, no control characters, sane dates, ASCII digits), X1 and
X4 (every refusal a documented problem document)."""

import uuid

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.schemas import SignupRequest
from app.clients.schemas import ClientUpdate
from app.config import Settings
from app.core.openapi import COMMON_RESPONSES
from app.core.schemas import INT32_MAX
from app.main import create_app
from app.messaging.schemas import MessageSend
from app.onboarding.schemas import InsurancePolicyIn
from app.models import User
from app.practice import validation
from app.practice.schemas import RateIn
from app.worker import shutdown
from tests.fixtures.factories import api_key, make_group, make_user, user_headers

SIGNUP = {"email": "strict@example.com", "password": "a long enough password", "first_name": "Ann", "last_name": "Lee"}
RATE = {"service_code": "90837", "private_pay_cents": 15000, "insurance_cents": 12000}


def refused(model: type, data: dict) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [error["type"] for error in caught.value.errors()]


def test_numbers_and_booleans_are_never_converted() -> None:
    # rule X5: `true` is not 1 cent, "150" is not 150, 1.5 is not an integer, 2^31 does not fit the column
    for wrong in (True, "150", 150.0, 1.5, INT32_MAX + 1, 2**63):
        assert refused(RateIn, {**RATE, "private_pay_cents": wrong}), wrong
    assert RateIn.model_validate(RATE).private_pay_cents == 15000


def test_a_number_is_not_a_date_and_a_date_of_birth_is_not_in_the_future() -> None:
    # rule X5: `0` was read as 1970-01-01; dates outside 1900-2200 and future births are refused
    policy = {"company": "Aetna", "member_id": "W123456789"}
    for born in (0, 1700000000, True, "0001-01-01", "2199-01-01", "2300-01-01", "9999-01-01"):
        assert refused(InsurancePolicyIn, {**policy, "date_of_birth": born}), born
    assert InsurancePolicyIn.model_validate({**policy, "date_of_birth": "1980-05-17"}).date_of_birth.year == 1980


def test_text_refuses_nul_and_control_characters_except_newlines_where_they_mean_something() -> None:
    # rule X5: NUL (which PostgreSQL cannot store), other controls, lone surrogates; a message keeps its newlines
    for bad in ("Ann\x00", "Ann\x07", "Ann\x1b[31m", "Ann\u0085", "Ann\ud800", "Ann\nLee"):
        # (lone surrogates: pydantic's own `string_unicode`; the rest: the strict base's pattern)
        assert refused(SignupRequest, {**SIGNUP, "first_name": bad})[0] in ("string_pattern_mismatch", "string_unicode"), repr(bad)
    assert MessageSend.model_validate({"body": "Hello,\n\tsee you Tuesday.\r\n"}).body.startswith("Hello,\n")
    assert refused(MessageSend, {"body": "Hello\x00"}) == ["string_pattern_mismatch"]


def test_null_is_refused_where_the_column_is_not_nullable_and_the_document_says_so() -> None:
    # rule X5, X1: PATCH fields may be left out; only nullable columns take null
    for field in ("first_name", "last_name", "email", "billing_type", "assessments"):
        assert refused(ClientUpdate, {field: None}), field
    assert ClientUpdate.model_validate({"phone": None, "telehealth_state": None}).model_fields_set == {"phone", "telehealth_state"}
    document = create_app().openapi()["components"]["schemas"]["ClientUpdate"]["properties"]
    assert "anyOf" not in document["first_name"] and "default" not in document["first_name"]
    assert {"type": "null"} in document["phone"]["anyOf"]


@pytest.mark.parametrize(
    "routing", ["٠١١٠٠٠٠١٥", "０１１０００００１５", "000000000", "011000016", "01100001", "0110000155", "011 00001"]
)
def test_routing_numbers_are_nine_ascii_digits_with_a_valid_check_digit(routing: str) -> None:
    # rule X5: Arabic-Indic and full-width digits, all zeros, a wrong check digit
    with pytest.raises(ValueError):
        validation.aba_routing_number(routing)


def test_bank_and_tax_numbers() -> None:
    # rule X5: python-stdnum's ABA, EIN and SSN rules, ASCII digits only
    assert validation.aba_routing_number("011000015") == "011000015"
    assert validation.bank_account_number("000123456789") == "000123456789"
    for account in ("٠١٢٣٤٥٦٧", "１２３４５６７８", "0000", "00000000", "123", "1" * 18, "1234-5678"):
        with pytest.raises(ValueError):
            validation.bank_account_number(account)
    assert validation.tax_id("123-45-6789") == validation.tax_id("123456789") == "123456789"
    assert validation.tax_id("12-3456789") == "123456789"
    for tax_id in ("000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "078-05-1120",
                   "07-3456789", "111-11-1111", "１２３-４５-６７８９", "٠١٢٣٤٥٦٧٨", "12-345678", "123456789a"):
        with pytest.raises(ValueError):
            validation.tax_id(tax_id)


def test_every_operation_documents_the_common_refusals_as_problem_documents() -> None:
    # rule X1: 400, 401/403 (not public), 404, 413, 422, 429 and 503 on every operation, with the problem schema
    spec = create_app().openapi()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            public = operation["x-capability"] == "public"
            expected = (set(COMMON_RESPONSES) | {"422"}) - ({"401", "403"} if public else set())
            assert expected <= set(operation["responses"]), (method, path)
            for status in expected:
                content = operation["responses"][status]["content"]
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    download = spec["paths"]["/v1/groups/{group_id}/clients/{client_id}/documents/{document_id}"]["get"]
    assert {"application/pdf", "image/png", "text/plain"} <= set(download["responses"]["200"]["content"])


async def test_signup_with_a_nul_byte_is_a_problem_document_not_a_500(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X5: sign-up needs no login, so this was reachable by anyone
    for field in ("first_name", "last_name", "password"):
        response = await client.post("/v1/auth/signup", json={**SIGNUP, field: SIGNUP[field] + "\x00"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == f"body.{field}" and "\x00" not in response.text
    assert await db.scalar(select(func.count()).select_from(User).where(User.email == SIGNUP["email"])) == 0


async def test_bodies_that_are_not_utf8_or_not_json_are_problem_documents(client: httpx.AsyncClient) -> None:
    # rule X4, X5: documented 400/422, never the framework's plain text
    for body in (b"\xff\xfe\x00{", b'{"email": "\xe9"}', b"{not json", b"", b"[]"):
        response = await client.post("/v1/auth/signup", content=body, headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), (body, response.text)
        assert response.headers["content-type"] == "application/problem+json" and response.json()["code"]


async def test_control_characters_in_query_and_path_are_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X5: a NUL in `?q=` or a slug would otherwise reach PostgreSQL
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    headers = await user_headers(db, owner)
    response = await client.get(f"/v1/groups/{group.id}/clients", params={"q": "ann\x00"}, headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.q"
    response = await client.get("/v1/booking/some%00slug")
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "path.slug"
    assert (await client.get(f"/v1/groups/{group.id}/clients", params={"q": "ann"}, headers=headers)).status_code == 200


async def test_idempotency_keys_with_control_bytes_or_too_long_are_problem_documents(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X2, X4: visible ASCII, at most 255 characters; a refusal creates nothing
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    headers = await user_headers(db, owner)
    for key in ("abc\x01def", "abc\x7fdef", "k" * 256, b"caf\xe9"):
        response = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"},
                                      headers={**headers, "Idempotency-Key": key})
        assert response.status_code == 422, (key, response.text)
        assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"
    ok = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"},
                           headers={**headers, "Idempotency-Key": "k" * 255})
    assert ok.status_code == 201, ok.text


async def test_an_id_beyond_the_column_type_is_a_422_not_a_driver_overflow(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X5: 2^63 does not fit a bigint; the driver would raise (500) if it got that far
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    headers = await user_headers(db, owner)
    url = f"/v1/groups/{group.id}/imports/{uuid.uuid4()}/rows/{2**63}"
    response = await client.patch(url, json={"selected": True}, headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "path.row_id"


def test_log_level_in_any_case_and_a_bad_one_is_a_clear_error() -> None:
    # A uvicorn-style `warning` works; a typo stops the start with a message naming the setting
    assert Settings(log_level="warning").log_level == "WARNING"
    assert Settings(log_level=" Debug ").log_level == "DEBUG"
    with pytest.raises(ValidationError) as caught:
        Settings(log_level="loud")
    assert "log_level" in str(caught.value)


async def test_worker_shutdown_after_a_failed_startup_does_not_hide_the_cause() -> None:
    # arq runs on_shutdown even when on_startup raised before opening the database
    await shutdown({})


async def test_api_key_names_are_strict_too(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X5: every request body uses the strict base, partner-facing ones included
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    await api_key(db, group)
    headers = await user_headers(db, owner)
    for name in ("Partner\x00", 42, None, "Partner\nTwo"):
        response = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": name}, headers=headers)
        assert response.status_code == 422, (name, response.text)


async def test_form_fields_with_a_nul_byte_are_refused_not_a_500(client: httpx.AsyncClient) -> None:
    # rule X5: the login form (OAuth2 password form) is input too
    for form in ({"username": "a\x00b@example.com", "password": "whatever it is"}, {"username": "a@example.com", "password": "pass\x00word"}):
        response = await client.post("/v1/auth/token", data=form)
        assert response.status_code in (401, 422), response.text
        assert response.headers["content-type"] == "application/problem+json"
