"""R3: a group's audit log, read by its admins: filtered pages and a streamed CSV export."""
