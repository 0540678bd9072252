"""Rule I6, pure: normalising rows and classifying them against candidate clients."""

import uuid

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from app.contact import e164_phone
from app.imports.matching import (
    Candidate,
    CandidateIndex,
    Classification,
    classify,
    classify_all,
    email_key,
    normalise,
    phone_e164,
)
from app.imports.parsers import Badge, ImportRow


def row(first: str | None = "Jane", last: str | None = "Doe", email: str | None = "jane@example.com",
        phone: str | None = None, line: int = 2, badges: tuple = ()) -> ImportRow:
    return ImportRow(line=line, first_name=first, last_name=last, email=email, phone=phone,
                     source_ref=f"row {line}", badges=badges)


def client(first: str = "Jane", last: str = "Doe", email: str = "jane@example.com") -> Candidate:
    return Candidate(uuid.uuid4(), first.lower(), last.lower(), email.lower())


def verdict(r: ImportRow, *clients: Candidate):
    return classify(normalise(r), CandidateIndex.of(clients))


# --- normalising -----------------------------------------------------------------------------------


def test_trims_and_case_folds() -> None:
    n = normalise(row("  Jane ", " Doe  Smith", "  Jane.Doe@Example.COM ", " (212) 555-0123 "))
    assert (n.first_name, n.last_name, n.email_key) == ("Jane", "Doe Smith", "jane.doe@example.com")
    assert n.phone_e164 == "+12125550123" and n.invalid_reason is None


@pytest.mark.parametrize("missing, reason", [("first", "first name missing"), ("last", "last name missing"),
                                             ("email", "email missing")])
def test_a_row_needs_first_last_and_email(missing: str, reason: str) -> None:
    # rule I4
    values = {"first": "Jane", "last": "Doe", "email": "jane@example.com"} | {missing: None}
    n = normalise(row(values["first"], values["last"], values["email"]))
    assert n.invalid_reason == reason


@pytest.mark.parametrize("bad", ["jane", "jane@", "@example.com", "jane@example", "jane@@example.com",
                                 "jane doe@example.com", "jane@example.test"])
def test_invalid_emails_make_an_invalid_row(bad: str) -> None:
    # rule I6: invalid, with the reason
    v = verdict(row(email=bad))
    assert v.classification is Classification.INVALID
    assert normalise(row(email=bad)).invalid_reason == "email is not a valid address"


def test_a_missing_or_unreadable_phone_changes_nothing() -> None:
    # rule I4
    assert verdict(row(phone=None)).classification is Classification.NEW
    n = normalise(row(phone="call me"))
    assert n.phone_e164 is None and n.invalid_reason is None and "phone_unreadable" in n.badges


def test_overlong_names_are_invalid_and_cut_to_fit() -> None:
    n = normalise(row(first="x" * 500))
    assert n.invalid_reason == "first name longer than 100 characters" and len(n.first_name or "") == 100


@pytest.mark.parametrize("raw", ["212-555-0123", "(212) 555 0123", "+1 212 555 0123", "1.212.555.0123", "2125550123",
                                 "555-0101", "+44 20 7946 0958", "416-555-0123", "+1 555 555 0123", "911", "212-555-0123 x12"])
def test_fast_phone_path_agrees_with_phonenumbers(raw: str) -> None:
    try:
        expected = e164_phone(raw)
    except ValueError:
        expected = None
    assert phone_e164(raw) == expected


@settings(max_examples=300, deadline=None)
@given(st.emails() | st.text(max_size=40) | st.from_regex(r"[a-zA-Z0-9._+-]{1,20}@[a-zA-Z0-9.-]{1,20}", fullmatch=True))
def test_fast_email_path_agrees_with_email_validator(raw: str) -> None:
    try:
        expected: str | None = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        expected = None
    assert email_key(raw) == expected


# --- classifying -----------------------------------------------------------------------------------


def test_no_match_is_new_and_not_selected() -> None:
    v = verdict(row(), client("Omar", "Haddad", "omar@example.com"))
    assert (v.classification, v.selected, v.candidate_client_ids) == (Classification.NEW, False, ())


def test_same_name_and_email_is_existing_and_selected() -> None:
    # rule I6: matched automatically by name and email, selected by default
    c = client()
    v = verdict(row("JANE", "doe", "Jane@Example.com"), c)
    assert (v.classification, v.selected, v.matched_client_id) == (Classification.EXISTING, True, c.client_id)


def test_email_match_with_another_name_is_uncertain() -> None:
    c = client("Janet", "Doe")
    v = verdict(row(), c)
    assert v.classification is Classification.UNCERTAIN and not v.selected
    assert "name_mismatch" in v.badges and v.candidate_client_ids == (c.client_id,) and v.matched_client_id is None


def test_name_match_with_another_email_is_uncertain() -> None:
    c = client(email="old@example.com")
    v = verdict(row(), c)
    assert v.classification is Classification.UNCERTAIN and v.badges == ("email_differs",)
    assert v.candidate_client_ids == (c.client_id,)


def test_name_match_without_email_is_uncertain_missing_email() -> None:
    # rule I6's "missing email" badge: it can still be matched by hand (I7)
    c = client()
    v = verdict(row(email=None), c)
    assert v.classification is Classification.UNCERTAIN and v.badges == ("missing_email",)


def test_no_email_and_no_name_match_is_invalid() -> None:
    assert verdict(row(email=None), client("Omar", "Haddad")).classification is Classification.INVALID


def test_several_candidates() -> None:
    a, b = client(email="a@example.com"), client(email="b@example.com")
    v = verdict(row(), a, b)
    assert v.classification is Classification.UNCERTAIN
    assert set(v.badges) == {"email_differs", "several_candidates"} and set(v.candidate_client_ids) == {a.client_id, b.client_id}


def test_email_match_and_a_namesake_lists_both() -> None:
    by_email, namesake = client("Janet", "Doe", "jane@example.com"), client(email="other@example.com")
    v = verdict(row(), by_email, namesake)
    assert set(v.badges) == {"name_mismatch", "several_candidates"}
    assert v.candidate_client_ids == (by_email.client_id, namesake.client_id)


def test_parser_badges_are_kept() -> None:
    v = verdict(row(badges=(Badge.COUPLE,)))
    assert v.badges == ("couple",)
    v = verdict(row(badges=(Badge.MINOR_CONTACT_USED,)), client(email="x@example.com"))
    assert v.badges[0] == "minor_contact_used"


def test_a_repeated_email_in_the_file_is_uncertain() -> None:
    rows = [normalise(row(line=2)), normalise(row("Janet", "Doe", "JANE@example.com", line=3))]
    first, second = classify_all(rows, CandidateIndex())
    assert first.classification is Classification.NEW
    assert second.classification is Classification.UNCERTAIN and "duplicate_in_file" in second.badges


def test_a_repeated_existing_row_is_not_matched_twice() -> None:
    c = client()
    first, second = classify_all([normalise(row(line=2)), normalise(row(line=3))], CandidateIndex.of([c]))
    assert first.classification is Classification.EXISTING
    assert second.classification is Classification.UNCERTAIN and second.candidate_client_ids == (c.client_id,)
