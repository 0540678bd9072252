"""Minimal valid bodies for the group routes, used by the generated capability matrix.

`$email` becomes a fresh address and `$provider_admin` the id of a member who is provider and admin.
"""

SAMPLE_BODIES: dict[str, dict] = {
    "groups-create_group": {"owner_license_type": "LCSW"},
    "groups-update_group": {"name": "Renamed Practice"},
    "memberships-add_provider": {"full_name": "Matrix Provider", "email": "$email", "license_type": "LPC"},
    "memberships-request_admin_grant": {"full_name": "Matrix Admin", "email": "$email"},
    "memberships-reject_admin_grant": {"reason": "matrix"},
    "memberships-revoke_admin_grant": {},
    "memberships-transfer_ownership": {"user_id": "$provider_admin"},
    "api-keys-create_api_key": {"name": "Matrix key"},
}
