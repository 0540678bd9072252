"""Capability-matrix samples for the audit log's routes: GET only, no bodies; the world's own events suffice."""

SAMPLE_BODIES: dict[str, dict] = {}
