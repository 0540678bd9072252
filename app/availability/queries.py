"""The one statement open slots read: the provider (404 when not an active provider of the group), the zones,
the booking settings, the weekly hours in force, and every busy interval, whatever the range.

Raw SQL on the asyncpg connection (the authentication pool's, or a request transaction's): building and
compiling five ORM statements cost more CPU than the rest of the request. Sessions are found through the
GiST indexes of the exclusion constraints (S2): `uuid_inet(...) = ... AND tstzrange(...) && ...` with the
constraints' own predicate, so a provider's year of sessions is never scanned for four weeks.
"""

OPEN_SLOTS_SQL = """
SELECT g.time_zone AS group_zone, g.intake_session_minutes AS intake_minutes, pa.time_zone AS provider_zone,
       bs.minimum_notice_minutes, bs.horizon_days, bs.therapy_minutes, bs.consultation_minutes, bs.buffer_minutes,
       h.weekdays, h.starts, h.ends, h.locations, h.froms, h.tos,
       s.starts AS session_starts, s.ends AS session_ends, t.starts AS off_starts, t.ends AS off_ends,
       c.telehealth_state AS client_state
FROM provider_profiles pp
JOIN groups g ON g.id = pp.group_id
JOIN memberships m ON m.group_id = pp.group_id AND m.user_id = pp.user_id AND m.is_provider AND m.ended_at IS NULL
LEFT JOIN provider_availability pa ON pa.group_id = pp.group_id AND pa.provider_user_id = pp.user_id
LEFT JOIN group_booking_settings bs ON bs.group_id = pp.group_id
LEFT JOIN LATERAL (
    SELECT array_agg(weekday) AS weekdays, array_agg(start_time) AS starts, array_agg(end_time) AS ends,
           array_agg(location_id) AS locations, array_agg(effective_from) AS froms, array_agg(effective_to) AS tos
    FROM provider_weekly_hours
    WHERE group_id = $1 AND provider_user_id = $2 AND effective_from <= $4::date + 1
      AND (effective_to IS NULL OR effective_to >= $3::date - 1)
) h ON true
LEFT JOIN LATERAL (
    SELECT array_agg(starts_at) AS starts, array_agg(ends_at) AS ends FROM (
        SELECT starts_at, ends_at FROM sessions
        WHERE uuid_inet(provider_user_id) = uuid_inet($2) AND tstzrange(starts_at, ends_at) && tstzrange($3, $4)
          AND status NOT IN ('cancelled', 'late_cancelled')
        UNION
        SELECT starts_at, ends_at FROM sessions
        WHERE $5::uuid IS NOT NULL AND uuid_inet(client_id) = uuid_inet($5) AND tstzrange(starts_at, ends_at) && tstzrange($3, $4)
          AND status NOT IN ('cancelled', 'late_cancelled')
    ) busy
) s ON true
LEFT JOIN LATERAL (
    SELECT array_agg(starts_at) AS starts, array_agg(ends_at) AS ends FROM provider_time_off
    WHERE group_id = $1 AND provider_user_id = $2 AND starts_at < $4 AND ends_at > $3
) t ON true
LEFT JOIN LATERAL (SELECT telehealth_state FROM clients WHERE id = $5) c ON true
WHERE pp.group_id = $1 AND pp.user_id = $2
"""

LICENSE_EXPIRY_SQL = """
SELECT max(expires_on) FROM provider_licenses WHERE group_id = $1 AND provider_user_id = $2 AND state = $3
"""
