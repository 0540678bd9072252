"""Webhooks (X3): endpoints, the event catalogue, the outbox of events, signed deliveries."""
