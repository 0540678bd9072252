"""Realistic request (and main response) examples for the OpenAPI document, keyed by operationId (X1).

Kept apart from the routers so the examples read as one set and the routes stay short. Values are
invented: example.com addresses, 555 phone numbers, made-up ids.
"""

from typing import Any

from app.core.errors import PROBLEM_MEDIA_TYPE

GROUP_ID = "3f6b1c2e-8a4d-4e51-9d0b-2c7a5e1f9a10"
USER_ID = "a1c9e7d2-5b3f-4a8e-9c61-7d2e4f0b8a33"
CLIENT_ID = "c4d8a2b6-1e3f-4c5a-8b7d-9e0f1a2b3c4d"
LOCATION_ID = "0b5e7c9a-2d4f-4e6a-8c1b-3d5f7a9b1c2e"

PROVIDER_ID = "5e2a9c71-3b8d-4f60-a2c4-6d8e0f1b3a57"
OTHER_PROVIDER_ID = "9d4f2b6a-7c1e-4a38-b5d0-2e6f8a0c4b19"
CODE = "492039"  # an authenticator's six digits
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet lantern over quiet hills"

REQUEST_EXAMPLES: dict[str, Any] = {
    # scheduling
    "sessions-create_series": {
        "client_id": CLIENT_ID, "provider_id": PROVIDER_ID, "kind": "therapy", "starts_at": "2027-01-11T15:00:00Z",
        "duration_minutes": 53, "telehealth": True, "repeat": {"every_weeks": 1, "count": 12},
    },
    "sessions-cancel_my_session": {"reason": "Travelling for work that week"},
    "sessions-set_my_reminders": {"enabled": False},
    "availability-replace_weekly_hours": {
        "time_zone": "America/Chicago",
        "hours": [
            {"weekday": 0, "start": "09:00", "end": "17:00", "location_id": None, "effective_from": "2027-01-04"},
            {"weekday": 2, "start": "12:00", "end": "20:00", "location_id": LOCATION_ID, "effective_from": "2027-01-04"},
        ],
    },
    "availability-add_time_off": {"first_day": "2027-03-15", "last_day": "2027-03-19"},
    "availability-add_license": {"state": "IL", "license_type": "LCSW", "number": "149.012345", "expires_on": "2028-11-30"},
    "availability-put_booking_settings": {
        "minimum_notice_minutes": 1440, "horizon_days": 60, "therapy_minutes": 53, "consultation_minutes": 15, "buffer_minutes": 10,
    },
    "clients-share_document": {"shared_with_client": True},
    "booking-book": {
        "email": "jordan.lee@example.com", "first_name": "Jordan", "last_name": "Lee", "phone": "+1 312 555 0148",
        "password": PASSWORD, "billing_type": "private_pay", "kind": "intake", "starts_at": "2027-01-12T16:00:00Z",
        "telehealth_state": "IL", "date_of_birth": "1991-06-02",
    },
    "webhooks-create_webhook_endpoint": {
        "url": "https://partner.example.com/caseload/webhooks", "description": "EHR sync",
        "event_types": ["client.created", "session.booked", "session.cancelled"],
    },
    "webhooks-update_webhook_endpoint": {"event_types": ["session.booked", "session.confirmed"], "enabled": True},
    # accounts
    "auth-signup": {"email": "sam.okafor@example.com", "password": PASSWORD, "first_name": "Sam", "last_name": "Okafor"},
    "auth-verify_email": {"token": "cev_Q2hpY2tlbiBvZiB0aGUgc2VhIGlzIGEgZmlzaA"},
    "auth-accept_invitation": {"token": "cin_V2VsY29tZSB0byBIYXJib3IgQ291bnNlbGluZw", "password": PASSWORD},
    "auth-resend_verification": {"email": "sam.okafor@example.com"},
    "auth-issue_token": {"username": "sam.okafor@example.com", "password": PASSWORD},
    "auth-issue_token_with_code": {"challenge_token": "clc_b3RwIGNoYWxsZW5nZSBmb3IgU2Ft", "code": CODE},
    "auth-request_password_reset": {"email": "sam.okafor@example.com"},
    "auth-confirm_password_reset": {"token": "cpr_cmVzZXQgbGluayBmb3IgU2FtIE9rYWZvcg", "new_password": NEW_PASSWORD},
    "me-change_password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    "me-confirm_two_factor": {"code": CODE},
    "me-replace_recovery_codes": {"code": CODE},
    "me-disable_two_factor": {"code": CODE},
    # groups and members
    "groups-create_group": {
        "name": "Harbor Counseling",
        "time_zone": "America/Chicago",
        "owner_license_type": "LCSW",
        "admins": [{"full_name": "Val Admin", "email": "val@example.com"}],
        "providers": [{"email": "lee.park@example.com", "status": "new", "full_name": "Lee Park", "license_type": "LMFT"}],
    },
    "groups-update_group": {"name": "Harbor Counseling & Wellness", "time_zone": "America/Chicago"},
    "memberships-add_provider": {"full_name": "Kai Moreau", "email": "kai.moreau@example.com", "license_type": "PsyD"},
    "memberships-request_admin_grant": {"email": "nia.admin@example.com", "full_name": "Nia Admin"},
    "memberships-reject_admin_grant": {"reason": "Billing is handled by Val."},
    "memberships-revoke_admin_grant": {"reason": "Moved to another practice."},
    "memberships-transfer_ownership": {"user_id": USER_ID},
    "memberships-remove_provider": {"reason": "Left the practice at the end of June."},
    "api-keys-create_api_key": {"name": "EHR sync (production)"},
    # practice settings
    "practice-update_settings": {
        "shown_in_search": True,
        "intake_session_minutes": 60,
        "cancellation_policy": {"window_hours": 24, "fee_cents": 5000, "effective_from": "2027-01-01"},
    },
    "practice-replace_rates": {
        "rates": [
            {"service_code": "90837", "provider_user_id": None, "private_pay_cents": 15000, "insurance_cents": 11200},
            {"service_code": "90791", "provider_user_id": None, "private_pay_cents": 18000, "insurance_cents": 13500},
            {"service_code": "90837", "provider_user_id": PROVIDER_ID, "private_pay_cents": 16500, "insurance_cents": 11200},
        ]
    },
    "practice-set_bank_account": {
        "account_holder_name": "Harbor Counseling LLC",
        "routing_number": "011000015",
        "account_number": "000123456789",
        "account_type": "checking",
    },
    "practice-confirm_bank_account": {"token": "cbc_YmFuayBhY2NvdW50IGNvbmZpcm1hdGlvbg"},
    "practice-refuse_bank_account": {"token": "cbc_YmFuayBhY2NvdW50IGNvbmZpcm1hdGlvbg"},
    "practice-submit_identity_verification": {"legal_name": "Maya Chen", "date_of_birth": "1981-04-02", "tax_id": "12-3456789"},
    "practice-decide_identity_verification": {"decision": "rejected", "reason": "The legal name does not match the tax record."},
    # providers
    "providers-update_profile": {
        "display_name": "Lee Park, LMFT",
        "specializations": ["Anxiety", "Couples"],
        "languages": ["English", "Korean"],
        "bio": "I help couples and individuals find calmer ways through change.",
        "education": [{"degree": "MA Marriage and Family Therapy", "institution": "Northwestern University", "year": 2014}],
    },
    "providers-update_locations": {
        "locations": [
            {"label": "Loop office", "address_line1": "200 W Madison St", "city": "Chicago", "state": "IL", "postal_code": "60606"}
        ]
    },
    "providers-update_intake_form": {
        "questions": [
            {"id": "reason", "label": "What brings you in?", "kind": "long_text", "required": True},
            {"id": "prior-therapy", "label": "Have you been in therapy before?", "kind": "single_choice", "options": ["Yes", "No"]},
        ]
    },
    # clients
    "clients-add_client": {
        "first_name": "Jordan",
        "last_name": "Blake",
        "email": "jordan.blake@example.com",
        "phone": "+13125550147",
        "billing_type": "insurance",
        "insurance": {"company": "Blue Cross Blue Shield of Illinois", "member_id": "XOF123456789", "copay_cents": 2500},
        "provider_id": PROVIDER_ID,
    },
    "clients-update_client": {"phone": "+13125550199", "billing_type": "private_pay"},
    "clients-archive_client": {"provider_id": PROVIDER_ID},
    "clients-transfer_client": {"from_provider_id": PROVIDER_ID, "to_provider_id": OTHER_PROVIDER_ID},
    "clients-upload_document": {"file": "(binary: intake-consent.pdf)", "category": "administrative"},
    # onboarding (the client themselves)
    "onboarding-set_insurance": {"company": "Aetna", "member_id": "W123456789", "date_of_birth": "1990-08-14", "copay_cents": 3000},
    "onboarding-set_billing_method": {"processor_token": "tok_1QxYcG2eZvKYlo2C", "brand": "visa", "last4": "4242", "exp_month": 9, "exp_year": 2029},
    "onboarding-acknowledge_form": {"document": "privacy_policy", "version": "2026-01"},
    "booking-signup": {
        "email": "riley.nguyen@example.com",
        "password": PASSWORD,
        "first_name": "Riley",
        "last_name": "Nguyen",
        "phone": "+13125550123",
        "billing_type": "private_pay",
    },
    # sessions
    "sessions-create_session": {
        "provider_id": PROVIDER_ID,
        "client_id": CLIENT_ID,
        "starts_at": "2027-03-09T15:00:00Z",
        "kind": "therapy",
        "telehealth": False,
        "location_id": LOCATION_ID,
    },
    "sessions-update_session": {"starts_at": "2027-03-10T16:00:00Z"},
    "sessions-confirm_session": {"service_code": "90837", "diagnosis_code": "F41.1"},
    "sessions-cancel_session": {"by": "client", "reason": "Sick with the flu."},
    # messages
    "messaging-open_conversation": {"client_id": CLIENT_ID},
    "messaging-send_message": {"body": "Hi Jordan, a reminder that we meet Tuesday at 9. Reply here if you need to move it."},
    "messaging-send_my_message": {"body": "Thanks! Tuesday works."},
    # imports
    "imports-upload_import": {"file": "(binary: clients.csv)", "provider_id": PROVIDER_ID},
    "imports-update_row": {"email": "j.blake@example.com", "selected": True},
    "imports-select_rows": {"classification": "new", "selected": True},
    "imports-set_mapping": {"columns": {"first_name": "Given", "last_name": "Family", "email": "E-mail"}, "save": True},
    "imports-finalize_import": {"send_welcome_email": True},
    # invitations and operations
    "invitations-accept_invitation_by_link": {"token": "cin_V2VsY29tZSB0byBIYXJib3IgQ291bnNlbGluZw"},
    "invitations-decline_invitation_by_link": {"token": "cin_V2VsY29tZSB0byBIYXJib3IgQ291bnNlbGluZw"},
    "payouts-request_settlement": {"pay_date": "2027-03-15"},
}

# The main answers a partner builds against first.
RESPONSE_EXAMPLES: dict[str, Any] = {
    "auth-issue_token": {"access_token": "cls_c2Vzc2lvbiB0b2tlbiBmb3IgU2Ft", "token_type": "bearer"},
    "problems-get_problem": {
        "code": "session_conflict",
        "type": "https://api.caseload.example/problems/session_conflict",
        "status": 409,
        "title": "Time taken",
        "meaning": "The provider or the client already has a session at that time; `conflicts` lists each one.",
        "fix": "Pick another time, or cancel the other session.",
    },
}

# Problem documents as they come, for the statuses most partners handle first.
PROBLEM_EXAMPLES: dict[str, Any] = {
    "409": {
        "type": "https://api.caseload.example/problems/session_conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "The provider or the client already has a session at that time. Pick another time, or cancel the other session.",
        "code": "session_conflict",
        "conflicts": [
            {"party": "provider", "session_id": "7b3e9f10-2c4d-4a6b-8e1f-0a2b3c4d5e6f", "starts_at": "2027-03-09T15:00:00Z",
             "ends_at": "2027-03-09T15:53:00Z", "other_practice": False}
        ],
    },
    "422": {
        "type": "https://api.caseload.example/problems/validation_failed",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "Some fields are missing or invalid; see `errors`.",
        "code": "validation_failed",
        "errors": [{"field": "body.starts_at", "message": "Input should be a valid datetime", "type": "datetime_from_date_parsing"}],
    },
}


def apply_examples(operation: dict[str, Any]) -> None:
    operation_id = operation.get("operationId", "")
    if operation_id in REQUEST_EXAMPLES and "requestBody" in operation:
        for media in operation["requestBody"]["content"].values():
            media["example"] = REQUEST_EXAMPLES[operation_id]
            break
    if operation_id in RESPONSE_EXAMPLES:
        for status, response in operation["responses"].items():
            if status.startswith("2") and "application/json" in response.get("content", {}):
                response["content"]["application/json"]["example"] = RESPONSE_EXAMPLES[operation_id]
                break
    for status, example in PROBLEM_EXAMPLES.items():
        if status == "409" and operation_id not in ("sessions-create_session", "sessions-update_session"):
            continue  # a session conflict is the 409 of those two only
        content = operation["responses"].get(status, {}).get("content", {}).get(PROBLEM_MEDIA_TYPE)
        if content is not None:
            operation["responses"][status]["content"] = {PROBLEM_MEDIA_TYPE: {**content, "example": example}}
