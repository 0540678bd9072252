"""Every problem code the API answers (X4): what it means and what would make the request succeed.

Each code's `type` URI (`{API_BASE_URL}/problems/{code}`) resolves to `GET /problems/{code}`, which serves
this entry; `GET /problems` lists them all. A test fails when the code base raises a code not listed here.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProblemKind:
    status: int  # the status it is usually answered with
    title: str
    meaning: str
    fix: str


def _k(status: int, title: str, meaning: str, fix: str) -> ProblemKind:
    return ProblemKind(status, title, meaning, fix)


PROBLEMS: dict[str, ProblemKind] = {
    # --- partners: keys, retries, concurrent edits ---
    "precondition_failed": _k(412, "Changed since you read it", "`If-Match` names a version that is no longer current: someone changed the resource after you read it.", "Read it again (GET), reapply your change to what it is now, and send it with the new ETag (`current_etag`)."),
    "insufficient_scope": _k(403, "Key lacks the scope", "This API key's scopes do not include what the operation needs (a `read` key cannot write).", "Use a key created with the scope named in `capability`, or ask an admin for one."),
    "unknown_scope": _k(422, "Scope unknown", "A scope asked for is not `read` or a capability a key can hold.", "Choose scopes from the list in `detail`."),
    "scope_exceeds_creator": _k(403, "Scope beyond your rights", "A key cannot be given a power its creator does not have in the group.", "Leave the scope out, or have the owner create the key."),
    "key_creator_lacks_rights": _k(403, "Key's creator lost their rights", "The person who created this key is no longer an admin of the group (or lacks required two-factor), so the key cannot act.", "Ask a current admin to create a new key and retire this one."),
    "rate_limit_too_high": _k(422, "Rate limit too high", "The requested per-key limit is above what keys may have.", "Ask for `maximum` requests per minute or fewer."),
    "rate_limited": _k(429, "Too many requests", "This API key used its requests for the current minute.", "Wait `retry_after` seconds (the `Retry-After` header); watch the `RateLimit-Remaining` header to pace requests."),
    # --- webhooks and operations ---
    "webhook_url_refused": _k(422, "Webhook URL refused", "The endpoint URL is not https, or points to a private, loopback or otherwise internal address.", "Give a public https URL your receiver answers on."),
    "webhook_endpoint_disabled": _k(409, "Endpoint turned off", "The webhook endpoint is turned off (by you, or after sustained delivery failures).", "Fix the receiver, then PATCH the endpoint with `{\"enabled\": true}`."),
    "job_not_failed": _k(409, "Job not failed", "Only a failed background job can be replayed; this one is queued, running, retrying or done.", "Wait for it to finish or fail; `job_state` says where it is."),
    "payout_not_waiting": _k(409, "Payout not waiting", "Only a payout that needs attention (failed three times) can be resumed.", "Nothing to do: `payout_status` says where the payout is."),
    "storage_unavailable": _k(503, "File storage unavailable", "The file storage could not be reached; nothing was stored or changed.", "Retry after `Retry-After` seconds."),
    # --- scheduling ---
    "series_conflict": _k(409, "Series overlaps", "Some occurrences of the series would overlap another session of the provider or the client; nothing was booked.", "Pick another time, length or count, or cancel the sessions listed in `conflicts`."),
    "invalid_series_end": _k(422, "Series end not valid", "`repeat.until` is before the first session or more than a year after it.", "Send an end date within a year after the first session."),
    "not_in_series": _k(422, "Not part of a series", "`scope=following` or `scope=all` was sent for a session booked on its own.", "Leave `scope` out, or send `scope=this`."),
    "inside_cancellation_window": _k(409, "Too late to cancel here", "The practice's cancellation window has opened: a cancellation now would carry the fee in `fee_cents`.", "Contact your provider to cancel or move the session."),
    "document_never_shared": _k(409, "Document cannot be shared", "Psychotherapy notes and messages are never shared with the client.", "Share a document of another category."),
    "client_not_consented": _k(409, "Client has not accepted", "The person has not accepted this practice's invitation yet, so nothing can be shared with their account.", "Wait until they accept the invitation (they can from the mail or their invitations list)."),
    "not_licensed_in_state": _k(409, "Not licensed in the client's state", "Telehealth needs the provider to hold an unexpired license in the client's state (`state`) on the session's day.", "Add the provider's license for that state, book in person, or book another provider."),
    "slot_taken": _k(409, "Time no longer open", "That time is not open any more (someone may have just booked it), or it was never an open slot.", "Choose one of `next_slots`, or ask for the open slots again."),
    "outside_age_range": _k(422, "Outside the practice's age range", "The practice sees clients between `age_min` and `age_max`.", "Ask the practice for a referral, or book with a practice that sees this age."),
    "date_of_birth_required": _k(422, "Date of birth needed", "The practice sees clients of a set age range, so booking through its link needs a date of birth.", "Send `date_of_birth`."),
    "consultation_by_phone": _k(422, "Consultations are by phone", "A consultation is a short phone call and has no location.", "Leave `location_id` out (telehealth)."),
    "kind_not_offered": _k(422, "Session kind not offered", "The booking link does not offer this kind of session (consultations only where the practice offers them).", "Ask for a kind the link offers (`intake`)."),
    "too_many_bookings": _k(429, "Too many bookings", "Too many bookings came from this address in a short time.", "Wait `retry_after` seconds and try again."),
    # --- reading the request ---
    "bad_request": _k(400, "Request unreadable", "The body is not UTF-8, or not well-formed for its media type, or the HTTP request itself could not be parsed.", "Send well-formed JSON (or the form or multipart body the operation documents) encoded as UTF-8."),
    "validation_failed": _k(422, "Invalid fields", "One or more fields are missing, of the wrong type or out of range; `errors` lists each with its path and reason. Input is strict: no text is converted to a number or boolean.", "Correct the fields named in `errors` and send the request again."),
    "payload_too_large": _k(413, "Body too large", "The request body is larger than this operation accepts.", "Send a smaller body; uploads have their own, larger limits stated in the operation."),
    "request_header_too_large": _k(431, "Headers too large", "The request line and headers together are over 64 KiB.", "Send fewer or shorter headers (a shorter query string)."),
    "unsupported_media_type": _k(415, "Media type not accepted", "The body's Content-Type is not one this operation reads.", "Send the media type the operation documents (usually application/json)."),
    "method_not_allowed": _k(405, "Method not allowed", "This path exists but does not accept that HTTP method.", "Use a method the path documents."),
    "not_found": _k(404, "Not found", "No such resource, or you may not see it: another practice's objects are never found, rather than forbidden.", "Check the ids in the path and that you are acting in the right group."),
    "http_error": _k(400, "HTTP error", "The request was refused before it reached the operation.", "Read `detail`; fix the request as it says."),
    "invalid_cursor": _k(422, "Cursor not valid", "The list cursor was edited, expired (after 24 hours) or issued by another list.", "Start the list again without a cursor."),
    "invalid_range": _k(422, "Range not valid", "`to` is not after `from`, or the range is longer than the calendar allows.", "Send a `from` before `to`, at most 93 days apart."),
    "idempotency_key_reused": _k(422, "Idempotency-Key reused", "This Idempotency-Key was first used for a different request (another body or path).", "Use a new key for a new request; reuse a key only to retry the very same request."),
    "idempotency_key_in_use": _k(409, "Request still running", "A request with this Idempotency-Key is still being processed.", "Wait a moment and retry with the same key: you will get its answer."),
    # --- who you are ---
    "unauthenticated": _k(401, "Not authenticated", "No valid credentials were sent, or the login has ended.", "Send `Authorization: Bearer <token>` from POST /v1/auth/token, or an API key; log in again if the login expired."),
    "invalid_credentials": _k(401, "Wrong email or password", "The email or password is wrong.", "Check both, or reset the password with POST /v1/auth/password-reset."),
    "otp_required": _k(401, "Two-factor code needed", "The password was right and the account has two-factor sign-in; `challenge_token` carries the login on.", "Post `challenge_token` and the authenticator's code to POST /v1/auth/token/two-factor, or send the code as the `otp` form field."),
    "invalid_otp": _k(401, "Two-factor code wrong", "The code is wrong, expired or already used.", "Enter the authenticator's current code, or one of the recovery codes."),
    "challenge_invalid": _k(401, "Sign-in challenge not valid", "The two-factor challenge is unknown or has expired.", "Log in again with email and password."),
    "too_many_login_attempts": _k(429, "Too many failed logins", "Too many failed logins for this account or from this address; `retry_after` says how long to wait.", "Wait `retry_after` seconds, or reset the password."),
    "throttle_unavailable": _k(503, "Logins paused", "The login attempt counter cannot be reached, so logins are paused rather than left unthrottled.", "Retry after the `Retry-After` seconds."),
    "current_password_wrong": _k(409, "Current password wrong", "The current password given with a password change is wrong.", "Enter it again, or reset the password by mail."),
    "reset_token_unknown": _k(404, "Reset link not valid", "This password reset link is not one we issued.", "Request a new one with POST /v1/auth/password-reset."),
    "reset_token_expired": _k(410, "Reset link expired", "Password reset links work for 30 minutes.", "Request a new one with POST /v1/auth/password-reset."),
    "reset_token_used": _k(409, "Reset link used", "This reset link was already used.", "Log in with the new password, or request another link."),
    "too_many_reset_requests": _k(429, "Too many reset requests", "Too many password reset requests from this address.", "Wait `retry_after` seconds."),
    "verification_token_unknown": _k(404, "Verification link not valid", "This email verification link is not one we issued.", "Request a new one with POST /v1/auth/resend-verification."),
    "verification_token_expired": _k(410, "Verification link expired", "Email verification links expire.", "Request a new one with POST /v1/auth/resend-verification."),
    "verification_token_used": _k(409, "Verification link used", "This verification link was already used.", "Log in; request a new link only if the email is still unverified."),
    "two_factor_already_enabled": _k(409, "Two-factor already on", "Two-factor sign-in is already on for this account.", "Disable it first to enrol a new authenticator."),
    "two_factor_not_enabled": _k(409, "Two-factor not on", "Two-factor sign-in is not on for this account.", "Enrol first with POST /v1/me/two-factor."),
    "two_factor_not_enrolled": _k(409, "No enrolment to confirm", "There is no two-factor enrolment waiting for a code.", "Start with POST /v1/me/two-factor, then confirm with a code from the authenticator."),
    "two_factor_required": _k(403, "Two-factor sign-in required", "Staff accounts, and owners and admins of a practice that requires it, need two-factor sign-in for this.", "Enrol with POST /v1/me/two-factor and confirm with POST /v1/me/two-factor/confirm."),
    "two_factor_required_for_staff": _k(409, "Staff keep two-factor", "Staff accounts cannot turn two-factor sign-in off.", "To change authenticator, ask another staff member."),
    "enrol_two_factor_first": _k(409, "Enrol two-factor first", "Requiring two-factor of admins needs the person asking to have it first.", "Turn on two-factor for yourself (POST /v1/me/two-factor, then confirm), then require it."),
    "email_unverified": _k(409, "Email not verified", "Owner and admin powers, and creating a group, need a verified email address.", "Follow the mailed verification link, or ask for a new one with POST /v1/auth/resend-verification."),
    "account_not_verified": _k(409, "Account not verified", "The person the request names has not verified their account yet.", "Ask them to follow their verification link, then retry."),
    # --- what you may do ---
    "forbidden": _k(403, "Not allowed", "Your role in this group (or the API key) does not allow this capability; `capability` names it.", "Ask the group's owner or an admin to do it, or to give you the rights."),
    "people_only": _k(403, "People only", "This operation is for a logged-in person, not an API key.", "Log in as a person and send that login's token."),
    "staff_only": _k(403, "Staff only", "This operation is for Caseload staff.", "Ask Caseload support."),
    "privileged_field": _k(422, "Field for staff only", "Only Caseload staff may set a group up on someone else's behalf.", "Leave `owner` out."),
    "own_role": _k(409, "Own role", "Nobody can change their own role.", "Ask the group's owner."),
    "self_removal": _k(403, "Self removal", "A provider is removed by another admin of the group, never by themself.", "Ask another admin or the owner."),
    "restricted_document_category": _k(403, "Restricted category", "Psychotherapy notes and messages are filed and read only by the client's treating providers.", "Have a provider with the client on their roster file it, or choose another category."),
    # --- throttles and outages ---
    "too_many_signups": _k(429, "Too many sign-ups", "Too many booking sign-ups from this address.", "Wait `retry_after` seconds and try again."),
    "database_unavailable": _k(503, "Database unavailable", "The database could not be reached for a moment; nothing was changed.", "Retry after the `Retry-After` seconds, with the same Idempotency-Key where the operation takes one."),
    "database_busy": _k(503, "Service busy", "Every database connection was in use; nothing was changed.", "Retry after the `Retry-After` seconds."),
    "queue_unavailable": _k(503, "Service unavailable", "A service this request needs is unavailable for a moment; nothing was changed.", "Retry after the `Retry-After` seconds."),
    "shutting_down": _k(503, "Server restarting", "The server restarted before this request completed; nothing was changed.", "Retry it."),
    "not_ready": _k(503, "Not ready", "The readiness check found a dependency unreachable (`failing` names it).", "Wait for the dependency to come back; route traffic elsewhere meanwhile."),
    "internal_error": _k(500, "Internal error", "Something went wrong on our side; it has been logged.", "Retry later, or quote `request_id` to support."),
    "document_unavailable": _k(500, "Document unreadable", "The stored document cannot be read right now; it has been logged.", "Retry later or contact support."),
    # --- groups, members and grants ---
    "already_a_provider": _k(409, "Already a provider", "This person is already a provider of the group (`user_id`).", "Use their existing membership."),
    "already_admin": _k(409, "Already an admin", "This person already holds admin rights in the group.", "Nothing to do."),
    "admin_grant_exists": _k(409, "Grant already open", "An admin grant for this person is already open (`grant_id`).", "Approve, reject or revoke that grant first."),
    "grant_not_open": _k(409, "Grant not open", "The admin grant was already decided or revoked.", "Read the grant's status; ask for a new grant if needed."),
    "grant_not_pending": _k(409, "Grant not waiting", "Only a grant waiting for the owner's approval can be approved or rejected.", "Read the grant's status."),
    "invitation_pending": _k(409, "Already invited", "This email was already invited; the person has not answered yet.", "Wait for their answer, or ask them to check their mail."),
    "email_taken": _k(409, "Email in use", "Another account uses this email.", "If it is the same person, add them by that email instead."),
    "owner_cannot_be_removed": _k(409, "Owner cannot be removed", "The owner of a group cannot be removed.", "Transfer ownership first (POST .../ownership-transfer)."),
    "removal_blocked": _k(409, "Removal blocked", "The provider still has open work; `blockers` lists it and `counts` sums it.", "Confirm or cancel their started sessions, transfer their clients and wait until their earnings are paid."),
    "not_a_provider": _k(422, "Not a provider", "The person named is not an active provider of this group.", "Name an active provider (see GET .../members)."),
    "provider_required": _k(422, "Provider required", "The request must name the provider whose roster it concerns (`provider_id`); `providers` lists the choices.", "Send `provider_id`."),
    "same_provider": _k(422, "Same provider", "A transfer must go to a different provider.", "Name another provider."),
    "identity_verification_not_pending": _k(409, "Verification not pending", "Only a pending identity verification can be decided.", "A new submission by the group makes it pending again."),
    "bank_confirmation_unknown": _k(404, "Confirmation link not valid", "This bank account confirmation link is not valid for this practice.", "Use the latest link mailed to the owner."),
    "bank_confirmation_expired": _k(410, "Confirmation link expired", "The bank account confirmation link has expired.", "Set the bank account again (PUT .../bank-account) to get a new link."),
    "bank_confirmation_used": _k(409, "Confirmation link used", "This bank account change was already confirmed or cancelled.", "Set the account again to get a new link."),
    "rate_not_found": _k(404, "No rate", "No rate is set for that service code for this provider or as the group's default.", "An admin of the group sets one with PUT .../rates."),
    "rate_missing": _k(409, "No rate for the service", "The session's service code has no rate, so it cannot be paid.", "An admin sets a rate for the code (PUT .../rates), then confirm again."),
    # --- clients, invitations, onboarding ---
    "client_exists": _k(409, "Client exists", "This practice already has a client with this email.", "Use that client record."),
    "already_on_roster": _k(409, "Already on the roster", "This person is already a client on that provider's roster (`client_id`).", "Nothing to do."),
    "client_not_on_roster": _k(409, "Client not on the roster", "The client is not on this provider's active roster.", "Add the client to the provider's roster first."),
    "client_not_on_your_roster": _k(409, "Client no longer yours", "The client left your roster: you keep reading what was added while they were on it, but add nothing.", "Ask the client's current provider."),
    "client_controls_identity": _k(409, "Client controls identity", "The client verified their account: only they change their name, email and phone (`fields`).", "Leave those fields out, or ask the client to change them."),
    "client_not_ready": _k(409, "Client not ready", "The client has not finished onboarding; `missing` lists what is left.", "Have the client complete the items in `missing`."),
    "already_on_platform": _k(409, "Account already set up", "This client has already set up their account; no welcome email is needed.", "Nothing to do."),
    "invitation_token_unknown": _k(404, "Invitation link not valid", "This invitation link is not valid.", "Log in to see your pending invitations (GET /v1/me/invitations)."),
    "invitation_expired": _k(410, "Invitation expired", "Invitations work for 14 days.", "Ask the practice to invite you again."),
    "invitation_used": _k(409, "Invitation answered", "This invitation was already accepted or declined (`status_now`).", "Nothing to do; ask the practice for a new one if needed."),
    "invitation_declined": _k(409, "Invitation declined", "This person declined the invitation.", "Ask them directly if it was a mistake."),
    "invitation_already_accepted": _k(409, "Account already set up", "This account already has a password.", "Log in instead."),
    "password_required": _k(409, "Password needed", "This invitation sets up an account: it needs a password.", "Accept it with POST /v1/auth/accept-invitation and a password."),
    "insurance_not_on_file": _k(404, "No insurance on file", "No insurance is on file for you.", "Add it with PUT /v1/me/insurance."),
    "billing_method_not_on_file": _k(404, "No billing method", "No form of billing is on file for you.", "Add one with PUT /v1/me/billing-method."),
    "card_number_refused": _k(422, "Card number refused", "Caseload never takes a card number.", "Send the payment processor's token for the card (`processor_token`) with brand, last four digits and expiry."),
    "form_version_outdated": _k(409, "Form version outdated", "The acknowledged form version is not the current one (`current_version`).", "Show the person the current version and acknowledge that."),
    "own_booking_link": _k(409, "Own booking link", "A provider cannot be their own client.", "Book with another provider's link."),
    "signed_in_signup": _k(422, "Signed in", "You are logged in, so the booking is for your account.", "Leave out email, password, first_name and last_name."),
    # --- documents and messages ---
    "document_empty": _k(422, "Empty document", "The uploaded file is empty.", "Send the file with its content."),
    "document_too_large": _k(413, "Document too large", "The document is larger than a document may be (`max_bytes`).", "Send a smaller file, or split it."),
    "document_type_refused": _k(415, "Document type refused", "The file's content is not one of the accepted types (`allowed_types`); the type is read from the content, not the name.", "Send a PDF, image or other listed type."),
    "conversation_closed": _k(409, "Conversation closed", "The client left the provider's roster or the provider left the group; the conversation stays readable.", "Start a conversation with the client's current provider."),
    "conversation_with_self": _k(409, "Conversation with self", "A provider cannot message themselves as their own client.", "Pick another client."),
    # --- sessions ---
    "session_conflict": _k(409, "Time taken", "The provider or the client already has a session at that time; `conflicts` lists each one.", "Pick another time, or cancel the other session."),
    "invalid_location": _k(422, "Location not valid", "That is not one of the provider's current practice locations.", "Pick a location from the provider's locations, or telehealth."),
    "session_not_scheduled": _k(409, "Session not scheduled", "Only a scheduled session can be confirmed, cancelled or marked a no-show (`session_status`).", "Read the session's status."),
    "session_not_started": _k(409, "Session not started", "The session has not started yet (`starts_at`).", "Wait until it has started."),
    "session_started": _k(409, "Session started", "A session that has started cannot be cancelled.", "Record a no-show instead."),
    "session_closed": _k(409, "Session closed", "A cancelled or no-show session cannot be changed.", "Book a new session."),
    "session_confirmed": _k(409, "Session confirmed", "A confirmed session cannot be moved; only its details can be corrected (`fields`).", "Change only the details."),
    "session_not_confirmed": _k(409, "Session not confirmed", "Service date and codes are given when confirming the session (`fields`).", "Confirm the session with them."),
    "confirmation_locked": _k(409, "Correction window closed", "The details of a confirmed session can be corrected for 48 hours (`editable_until`).", "Ask an admin to record the correction another way."),
    "confirmation_window_closed": _k(409, "Confirmation window closed", "A session can be confirmed up to 30 days after it took place.", "Nothing can confirm it now; contact support if it must be paid."),
    "service_date_mismatch": _k(422, "Service date mismatch", "The service date must be the session's date in the group's time zone (`expected_service_date`).", "Send that date or leave `service_date` out."),
    # --- imports ---
    "import_too_large": _k(413, "Import file too large", "The import file is larger than allowed (`max_bytes`).", "Split the list into smaller files."),
    "unsupported_type": _k(415, "File type not read", "The file is not a type the import reads (CSV, xlsx, vCard or a supported export).", "Export the list as CSV or xlsx and upload that."),
    "empty_file": _k(415, "Empty file", "The uploaded file is empty.", "Upload the file with its content."),
    "no_rows": _k(415, "No rows", "The file holds no rows to import.", "Upload a file with at least one client row."),
    "spreadsheet_encrypted": _k(415, "Workbook encrypted", "The workbook is password-protected.", "Save it without a password and upload it again."),
    "import_not_ready": _k(409, "Import not ready", "Only a ready import can be finalized or edited (`import_status`).", "Wait for the analysis to finish (read the import again)."),
    "import_finalized": _k(409, "Import finalized", "The import is already finalized or undone.", "Nothing to do; upload the file again for a new import."),
    "import_not_finalized": _k(409, "Import not finalized", "Only a finalized import can be undone (`import_status`).", "Leave an import not finalized: it imported nothing."),
    "import_undo_blocked": _k(409, "Undo blocked", "Something was done with some of the clients this import added; `blockers` lists them.", "Archive those clients one by one instead."),
    "mapping_not_needed": _k(409, "Mapping not needed", "A column mapping is asked for only when the file's headers are not recognised.", "Read the import; it needs no mapping."),
    "nothing_selected": _k(409, "Nothing selected", "No row is selected, so there is nothing to import.", "Select the rows to import and finalize again."),
    "row_invalid": _k(409, "Row invalid", "Invalid rows cannot be selected.", "Correct the row (PATCH the row) or fix the file and upload it again."),
    "match_required": _k(409, "Match required", "A row without an email can be imported only by matching it to one of its candidates.", "Match it to a candidate or leave it out."),
    "match_fixed": _k(409, "Match fixed", "Only a match made by hand on an uncertain row can be cleared.", "Leave the row as it is."),
    "not_a_candidate": _k(409, "Not a candidate", "A row can be matched only to one of the clients offered for it (`candidates`).", "Pick one of `candidates`."),
}


def problem_kind(code: str) -> ProblemKind | None:
    return PROBLEMS.get(code)
