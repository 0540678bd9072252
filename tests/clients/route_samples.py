"""Minimal valid bodies for the client routes, for the generated capability matrix."""

SAMPLE_BODIES: dict[str, dict] = {
    "clients-add_client": {
        "first_name": "Matrix",
        "last_name": "Client",
        "email": "$email",
        "phone": "+12125550123",
        "billing_type": "private_pay",
        "provider_id": "$user_id",
    },
    "clients-update_client": {"telehealth_state": "CA"},
    "clients-archive_client": {},
    "clients-transfer_client": {"from_provider_id": "$user_id", "to_provider_id": "$provider_admin"},
}
