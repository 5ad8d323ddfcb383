"""The set-based SQL behind ``record.sensing``: one query per exception kind.

The unit-data query reports three kinds from one pass (``serial_unknown``, ``pi_mismatch`` and the
two-shipment ``serial_duplicate``); ``serial_duplicate`` also has its own impossible-travel query.

Every query takes ``$now`` (TIMESTAMP) and returns rows ``(kind, subject, shipment_id, severity,
evidence)`` with ``evidence`` a JSON object. Timestamps in evidence are ISO 8601 (naive UTC).
"""

from __future__ import annotations

__all__ = ["GRACE_MIN", "MKT_DH_R", "QUERIES", "STALE_MIN"]

GRACE_MIN = 120  # custody gap: minutes past the expected arrival before "shipped, not received"
STALE_MIN = 30  # asset fault: minutes without telemetry on a loaded asset
MKT_DH_R = 10_000.0  # USP <1079.2> activation energy over the gas constant, kelvin
_CRT_BAND = (15.0, 30.0)  # USP <659> allowed CRT excursions
_RISK_WINDOW_MIN = 60
_RISK_MIN_READINGS = 8
_UNDELIVERED = "('planned', 'held', 'released', 'in_transit')"


def _iso(expr: str) -> str:
    return f"strftime({expr}, '%Y-%m-%dT%H:%M:%S')"


def _hav_km(a: str, b: str) -> str:
    """Road km between two located rows: great-circle km times 1.2 (the lanes' circuity)."""
    return (
        f"(2 * 6371 * asin(sqrt(pow(sin(radians({b}.lat - {a}.lat) / 2), 2) + cos(radians({a}.lat))"
        f" * cos(radians({b}.lat)) * pow(sin(radians({b}.lon - {a}.lon) / 2), 2))) * 1.2)"
    )


# Checksums first: per case, the sum of hash(gtin, serial, lot, expiry) over the declared unit data
# and over the commissioned units the record places in it. Only cases whose sums or counts differ
# are joined unit by unit. (A 64-bit hash sum can collide; with ~50k cases the chance that a real
# difference cancels out is about 1e-14.) A unit declared on a shipment other than the one its
# case travels on, or on two shipments, always unbalances a case, so the two-shipment duplicates
# are found in the same drill-down.
_UNITS = """
WITH decl AS (
    SELECT coalesce(container_id, '') AS case_id, sum(hash(gtin, serial, lot, expiry)) AS h,
           count(*) AS n
    FROM shipment_units GROUP BY ALL
),
phys AS (
    SELECT coalesce(container_id, '') AS case_id, sum(hash(gtin, serial, lot, expiry)) AS h,
           count(*) AS n
    FROM units WHERE commissioned_at IS NOT NULL GROUP BY ALL
),
odd AS (
    SELECT d.case_id FROM decl d LEFT JOIN phys p USING (case_id)
    WHERE p.h IS DISTINCT FROM d.h OR p.n IS DISTINCT FROM d.n
),
j AS MATERIALIZED (
    SELECT su.shipment_id, su.gtin, su.serial, su.container_id AS declared_case,
           su.lot AS declared_lot, su.expiry AS declared_expiry, u.lot, u.expiry,
           u.container_id AS case_id, u.commissioned_at IS NULL AS unknown,
           u.serial IS NULL AS no_record, ds.status AS declared_status,
           pc.shipment_id AS physical_shipment, ps.status AS physical_status
    FROM shipment_units su
    SEMI JOIN odd o ON o.case_id = coalesce(su.container_id, '')
    JOIN shipments ds ON ds.shipment_id = su.shipment_id
    LEFT JOIN units u ON u.gtin = su.gtin AND u.serial = su.serial
    LEFT JOIN containers pc ON pc.container_id = u.container_id
    LEFT JOIN shipments ps ON ps.shipment_id = pc.shipment_id
),
bad AS (
    SELECT shipment_id, gtin || '.' || serial AS unit, declared_lot, lot, declared_expiry, expiry,
           unknown, no_record
    FROM j
    WHERE unknown OR (declared_lot IS NOT NULL AND declared_lot IS DISTINCT FROM lot)
       OR (declared_expiry IS NOT NULL AND declared_expiry IS DISTINCT FROM expiry)
),
places AS (  -- undelivered shipments a unit is declared on, or physically travels with
    SELECT gtin, serial, shipment_id AS ship, declared_case AS case_id FROM j
    WHERE declared_status <> 'delivered'
    UNION
    SELECT gtin, serial, physical_shipment, case_id FROM j
    WHERE physical_status <> 'delivered'
)
SELECT 'serial_unknown' AS kind, shipment_id AS subject, shipment_id, 'critical' AS severity,
       json_object('unit_count', count(*), 'units', list(unit ORDER BY unit)[1:50],
                   'not_in_record', count_if(no_record),
                   'not_commissioned', count_if(NOT no_record)) AS evidence
FROM bad WHERE unknown GROUP BY shipment_id
UNION ALL
SELECT 'pi_mismatch', shipment_id, shipment_id, 'high',
       json_object('unit_count', count(*),
                   'lot_mismatches', count_if(declared_lot IS NOT NULL AND declared_lot <> lot),
                   'expiry_mismatches',
                   count_if(declared_expiry IS NOT NULL AND declared_expiry <> expiry),
                   'units', list(struct_pack(unit, declared_lot, lot, declared_expiry, expiry)
                                 ORDER BY unit)[1:50])
FROM bad WHERE NOT unknown GROUP BY shipment_id
UNION ALL
SELECT 'serial_duplicate', gtin || '.' || serial, min(ship), 'critical',
       json_object('variant', 'two_shipments', 'shipments', list(ship ORDER BY ship, case_id),
                   'containers', list(case_id ORDER BY ship, case_id))
FROM places GROUP BY gtin, serial HAVING count(DISTINCT ship) > 1
"""

_TRAVEL = f"""
WITH obs AS (
    SELECT event_id, event_time, coalesce(biz_location, read_point) AS loc, biz_step,
           shipment_id, unnest(epcs) AS epc
    FROM custody_events
    WHERE event_type = 'ObjectEvent' AND action = 'OBSERVE' AND event_time <= $now
),
seq AS (
    SELECT *, lag(loc) OVER w AS prev_loc, lag(event_time) OVER w AS prev_time,
           lag(event_id) OVER w AS prev_event, lag(biz_step) OVER w AS prev_step,
           lag(shipment_id) OVER w AS prev_ship
    FROM obs WHERE loc IS NOT NULL
    WINDOW w AS (PARTITION BY epc ORDER BY event_time, event_id)
),
pairs AS (
    SELECT q.*, date_diff('second', q.prev_time, q.event_time) / 60.0 AS minutes_apart,
           coalesce(least(l1.minutes, l2.minutes),
                    round({_hav_km("a", "b")} / 65 * 60)) AS min_minutes,
           round(coalesce(l1.km, l2.km, {_hav_km("a", "b")}), 1) AS km
    FROM seq q
    JOIN locations a ON a.location_id = q.prev_loc JOIN locations b ON b.location_id = q.loc
    LEFT JOIN lanes l1 ON l1.from_id = q.prev_loc AND l1.to_id = q.loc
    LEFT JOIN lanes l2 ON l2.from_id = q.loc AND l2.to_id = q.prev_loc
    WHERE q.prev_loc <> q.loc
),
travel AS (
    SELECT epc AS subject, coalesce(min(prev_ship), min(shipment_id)) AS shipment_id,
           json_object('variant', 'impossible_travel', 'pairs', count(*), 'first', arg_min(
               struct_pack(from_event := prev_event, from_step := prev_step,
                           from_location := prev_loc, from_at := {_iso("prev_time")},
                           to_event := event_id, to_step := biz_step,
                           to_location := loc, to_at := {_iso("event_time")},
                           minutes_apart := round(minutes_apart, 1), km,
                           min_lane_minutes := min_minutes), event_time)) AS evidence
    FROM pairs WHERE minutes_apart < min_minutes GROUP BY epc
)
SELECT 'serial_duplicate' AS kind, subject, shipment_id, 'critical' AS severity, evidence
FROM travel
"""

# Counts: declared_children against units + child containers in the record. Two parents: the
# live AggregationEvent children (ADD without a later DELETE) grouped by hash(child) first, so
# that only children with two parents are handled as strings.
_AGGREGATION = """
WITH kids AS (
    SELECT container_id, count(*) AS n FROM units WHERE container_id IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT parent_id, count(*) FROM containers WHERE parent_id IS NOT NULL GROUP BY ALL
),
actual AS (SELECT container_id, sum(n)::BIGINT AS n FROM kids GROUP BY ALL),
counts AS (
    SELECT c.container_id AS subject, c.shipment_id, 'medium' AS severity,
           json_object('variant', 'count', 'container_kind', c.kind,
                       'declared_children', c.declared_children,
                       'actual_children', coalesce(a.n, 0)) AS evidence
    FROM containers c LEFT JOIN actual a USING (container_id)
    WHERE c.declared_children IS NOT NULL AND c.declared_children <> coalesce(a.n, 0)
),
adds AS MATERIALIZED (
    SELECT event_id, event_time, parent_id AS parent, child, hash(child) AS h, hash(parent_id) AS hp
    FROM (SELECT event_id, event_time, parent_id, unnest(epcs) AS child FROM custody_events
          WHERE event_type = 'AggregationEvent' AND action = 'ADD' AND parent_id IS NOT NULL
            AND event_time <= $now)
),
maybe AS (SELECT h FROM adds GROUP BY h HAVING min(hp) <> max(hp)),
dels AS (
    SELECT event_time, parent_id AS parent, unnest(epcs) AS child FROM custody_events
    WHERE event_type = 'AggregationEvent' AND action = 'DELETE' AND event_time <= $now
),
live AS (
    SELECT a.* FROM adds a SEMI JOIN maybe USING (h)
    ANTI JOIN dels d ON d.parent = a.parent AND d.child = a.child AND d.event_time >= a.event_time
),
multi AS (
    SELECT child, arg_max(parent, event_time) AS latest,
           list(struct_pack(parent, event := event_id,
                            at := strftime(event_time, '%Y-%m-%dT%H:%M:%S'))
                ORDER BY event_time) AS parents
    FROM live GROUP BY child HAVING min(parent) <> max(parent)
),
twos AS (
    SELECT m.latest AS subject, any_value(c.shipment_id) AS shipment_id, 'high' AS severity,
           json_object('variant', 'child_in_two_parents', 'child_count', count(*),
                       'children', list(struct_pack(child := m.child, parents := m.parents)
                                        ORDER BY m.child)[1:50]) AS evidence
    FROM multi m LEFT JOIN containers c ON c.container_id = m.latest GROUP BY m.latest
)
SELECT 'aggregation_mismatch' AS kind, * FROM counts
UNION ALL
SELECT 'aggregation_mismatch', * FROM twos
"""

_EXPIRY = f"""
WITH sl AS (
    SELECT DISTINCT su.shipment_id, su.gtin, su.lot
    FROM shipment_units su JOIN shipments s USING (shipment_id)
    WHERE s.status IN {_UNDELIVERED} AND su.lot IS NOT NULL
),
j AS (
    SELECT sl.*, l.expiry, l.status AS lot_status, p.min_shelf_life_days AS shelf,
           coalesce(s.eta, s.planned_departure, $now)::DATE AS delivery_date,
           CASE WHEN l.status = 'recalled' THEN 'recalled'
                WHEN l.expiry < $now::DATE THEN 'expired'
                WHEN l.expiry < coalesce(s.eta, s.planned_departure, $now)::DATE
                                + p.min_shelf_life_days THEN 'short_dated' END AS reason
    FROM sl JOIN lots l USING (gtin, lot) JOIN products p USING (gtin)
         JOIN shipments s USING (shipment_id)
)
SELECT 'expired_or_recalled' AS kind, shipment_id AS subject, shipment_id,
       CASE WHEN bool_or(reason IN ('recalled', 'expired')) THEN 'critical' ELSE 'high' END,
       json_object('delivery_date', any_value(delivery_date),
                   'lots', list(struct_pack(gtin, lot, reason, expiry, lot_status,
                                            min_shelf_life_days := shelf,
                                            needed_until := delivery_date + shelf)
                                ORDER BY gtin, lot))
FROM j WHERE reason IS NOT NULL GROUP BY shipment_id
"""

_DATA = """
WITH gaps AS (
    SELECT shipment_id, count_if(lot IS NULL) AS no_lot, count_if(expiry IS NULL) AS no_expiry,
           list(gtin || '.' || serial ORDER BY gtin, serial)[1:50] AS units
    FROM shipment_units WHERE lot IS NULL OR expiry IS NULL GROUP BY ALL
)
SELECT 'data_missing' AS kind, s.shipment_id AS subject, s.shipment_id,
       CASE WHEN s.status IN ('released', 'in_transit') THEN 'high' ELSE 'medium' END,
       json_object('status', s.status, 'ti_missing', s.ti_document IS NULL,
                   'ts_missing', NOT s.ts_attested, 'units_without_lot', coalesce(g.no_lot, 0),
                   'units_without_expiry', coalesce(g.no_expiry, 0),
                   'units', coalesce(g.units, []))
FROM shipments s LEFT JOIN gaps g USING (shipment_id)
WHERE s.status <> 'delivered'
  AND (s.ti_document IS NULL OR NOT s.ts_attested OR g.shipment_id IS NOT NULL)
"""

_LATE = f"""
SELECT 'late_risk' AS kind, shipment_id AS subject, shipment_id,
       CASE WHEN minutes_late >= 120 THEN 'high' ELSE 'medium' END,
       json_object('status', status, 'eta', {_iso("eta")},
                   'promised_start', {_iso("promised_start")},
                   'promised_end', {_iso("promised_end")}, 'minutes_late', minutes_late)
FROM (SELECT *, round(date_diff('second', promised_end, eta) / 60.0)::INTEGER AS minutes_late
      FROM shipments WHERE status IN {_UNDELIVERED} AND eta > promised_end)
"""

_CUSTODY = f"""
WITH overdue AS (
    SELECT s.*, coalesce(l.minutes, round({_hav_km("a", "b")} / 65 * 60) + 15)::INTEGER AS lane_min
    FROM shipments s
    JOIN locations a ON a.location_id = s.origin_id
    JOIN locations b ON b.location_id = s.destination_id
    LEFT JOIN lanes l ON l.from_id = s.origin_id AND l.to_id = s.destination_id
    WHERE s.status = 'in_transit' AND s.departed_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM custody_events e
                      WHERE e.shipment_id = s.shipment_id AND e.biz_step = 'receiving')
),
expected AS (
    SELECT *, greatest(departed_at + to_minutes(lane_min), coalesce(eta, departed_at)) AS due
    FROM overdue
)
SELECT 'custody_gap' AS kind, shipment_id AS subject, shipment_id, 'high',
       json_object('variant', 'not_received', 'departed_at', {_iso("departed_at")},
                   'lane_minutes', lane_min, 'eta', {_iso("eta")}, 'expected_by', {_iso("due")},
                   'grace_min', {GRACE_MIN},
                   'minutes_overdue', round(date_diff('second', due, $now) / 60.0)::INTEGER)
FROM expected WHERE due + to_minutes({GRACE_MIN}) < $now
UNION ALL
SELECT 'custody_gap', s.shipment_id, s.shipment_id, 'medium',
       json_object('variant', 'no_epod', 'delivered_at', {_iso("s.delivered_at")},
                   'destination_id', s.destination_id)
FROM shipments s ANTI JOIN epod e ON e.shipment_id = s.shipment_id
WHERE s.status = 'delivered'
"""

_ASSETS = f"""
WITH loaded AS (
    SELECT asset_id, list(shipment_id ORDER BY shipment_id) AS ships FROM shipments
    WHERE status = 'in_transit' AND asset_id IS NOT NULL GROUP BY ALL
),
f AS (
    SELECT a.*, l.ships,
           a.last_telemetry_at IS NULL
               OR a.last_telemetry_at < $now - to_minutes({STALE_MIN}) AS stale,
           round(date_diff('second', a.last_telemetry_at, $now) / 60.0)::INTEGER AS silent_min
    FROM assets a JOIN loaded l USING (asset_id)
)
SELECT 'asset_fault' AS kind, asset_id AS subject, ships[1] AS shipment_id,
       CASE WHEN health IN ('alarm', 'fault') OR stale THEN 'high' ELSE 'medium' END,
       json_object('asset_kind', kind, 'health', health, 'battery_pct', battery_pct,
                   'stale_telemetry', stale, 'last_telemetry_at', {_iso("last_telemetry_at")},
                   'minutes_since_telemetry', silent_min, 'stale_after_min', {STALE_MIN},
                   'setpoint_c', setpoint_c, 'shipments', ships)
FROM f WHERE health <> 'ok' OR stale
"""

_LIMITS = f"""
lim AS (
    SELECT sp.shipment_id, max(p.temp_min_c) AS label_min, min(p.temp_max_c) AS label_max,
           min(p.stability_budget_min) AS budget, bool_and(p.temp_class = 'crt') AS is_crt,
           arg_min(p.gtin, p.stability_budget_min) AS strictest_gtin,
           CASE WHEN bool_and(p.temp_class = 'crt') THEN {_CRT_BAND[0]}
                ELSE max(p.temp_min_c) END AS lo,
           CASE WHEN bool_and(p.temp_class = 'crt') THEN {_CRT_BAND[1]}
                ELSE min(p.temp_max_c) END AS hi
    FROM (SELECT DISTINCT shipment_id, gtin FROM shipment_units
          WHERE shipment_id IN (SELECT shipment_id FROM shipments WHERE {{status}})) sp
    JOIN products p USING (gtin) GROUP BY ALL
)"""

_EXCURSION = f"""
WITH {_LIMITS.format(status="departed_at IS NOT NULL")},
r AS (
    SELECT r.shipment_id, r.ts, r.temp_c, r.temp_c < l.lo OR r.temp_c > l.hi AS out_
    FROM sensor_readings r JOIN lim l USING (shipment_id) WHERE r.ts <= $now
),
agg AS (
    SELECT shipment_id, count(*) AS n, count_if(out_) AS n_out, min(temp_c) AS t_min,
           max(temp_c) AS t_max,
           {MKT_DH_R} / -ln(avg(exp(-{MKT_DH_R} / (temp_c + 273.15)))) - 273.15 AS mkt
    FROM r GROUP BY ALL
),
cand AS (
    SELECT * FROM agg JOIN lim USING (shipment_id) WHERE n_out > 0 OR (is_crt AND mkt > 25)
),
w AS (
    SELECT r.*, lead(r.ts) OVER (PARTITION BY r.shipment_id ORDER BY r.ts) AS nxt
    FROM r SEMI JOIN cand USING (shipment_id)
),
mins AS (
    SELECT shipment_id,
           sum(CASE WHEN out_ THEN date_diff('second', ts, coalesce(nxt, ts)) ELSE 0 END)
               / 60.0 AS minutes,
           min(ts) FILTER (WHERE out_) AS first_out, max(ts) FILTER (WHERE out_) AS last_out,
           arg_max(out_, ts) AS out_now
    FROM w GROUP BY ALL
),
res AS (SELECT c.*, m.*, c.budget - m.minutes AS left_ FROM cand c JOIN mins m USING (shipment_id))
SELECT 'temp_excursion' AS kind, shipment_id AS subject, shipment_id,
       CASE WHEN left_ <= 0 THEN 'critical'
            WHEN n_out = 0 OR left_ < 0.25 * budget THEN 'high' ELSE 'medium' END,
       json_object('minutes_out_of_range', round(minutes, 1), 'budget_min', budget,
                   'budget_left_min', round(left_, 1), 'budget_spent', left_ <= 0,
                   'first_out_at', {_iso("first_out")}, 'last_out_at', {_iso("last_out")},
                   'in_excursion_now', out_now, 'min_c', t_min, 'max_c', t_max,
                   'range_c', [lo, hi], 'label_range_c', [label_min, label_max],
                   'mkt_c', CASE WHEN is_crt THEN round(mkt, 2) END,
                   'mkt_limit_c', CASE WHEN is_crt THEN 25 END, 'readings', n,
                   'readings_out_of_range', n_out, 'strictest_gtin', strictest_gtin)
FROM res
"""

_RISK = f"""
WITH {_LIMITS.format(status="status = 'in_transit'")},
recent AS (
    SELECT r.shipment_id, count(*) AS n, max(r.ts) AS last_ts, arg_max(r.temp_c, r.ts) AS last_c,
           regr_slope(r.temp_c, (epoch(r.ts) - epoch($now)) / 60.0) AS slope,
           regr_intercept(r.temp_c, (epoch(r.ts) - epoch($now)) / 60.0) AS icept
    FROM sensor_readings r JOIN lim USING (shipment_id)
    WHERE r.ts > $now - to_minutes({_RISK_WINDOW_MIN}) AND r.ts <= $now
    GROUP BY ALL HAVING count(*) >= {_RISK_MIN_READINGS}
),
proj AS (
    SELECT q.*, l.lo, l.hi, l.label_min, l.label_max,
           CASE WHEN q.slope > 0 THEN l.hi WHEN q.slope < 0 THEN l.lo END AS limit_c,
           CASE WHEN q.slope > 0 THEN (l.hi - q.icept) / q.slope
                WHEN q.slope < 0 THEN (l.lo - q.icept) / q.slope END AS to_limit
    FROM recent q JOIN lim l USING (shipment_id)
    WHERE q.last_c BETWEEN l.lo AND l.hi
)
SELECT 'temp_excursion_risk' AS kind, shipment_id AS subject, shipment_id,
       CASE WHEN to_limit <= 30 THEN 'high' ELSE 'medium' END,
       json_object('last_c', last_c, 'last_reading_at', {_iso("last_ts")},
                   'slope_c_per_hour', round(slope * 60, 2), 'limit_c', limit_c,
                   'minutes_to_limit', round(greatest(to_limit, 0), 1),
                   'projected_cross_at', {_iso("$now + to_seconds(greatest(to_limit, 0) * 60)")},
                   'horizon_min', $horizon, 'window_min', {_RISK_WINDOW_MIN},
                   'readings_used', n, 'range_c', [lo, hi], 'label_range_c', [label_min, label_max])
FROM proj WHERE to_limit IS NOT NULL AND to_limit <= $horizon
"""

# (kinds a query can report, the query), heaviest first so that two workers balance.
QUERIES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"serial_unknown", "pi_mismatch", "serial_duplicate"}), _UNITS),
    (frozenset({"aggregation_mismatch"}), _AGGREGATION),
    (frozenset({"temp_excursion"}), _EXCURSION),
    (frozenset({"temp_excursion_risk"}), _RISK),
    (frozenset({"expired_or_recalled"}), _EXPIRY),
    (frozenset({"data_missing"}), _DATA),
    (frozenset({"serial_duplicate"}), _TRAVEL),
    (frozenset({"custody_gap"}), _CUSTODY),
    (frozenset({"asset_fault"}), _ASSETS),
    (frozenset({"late_risk"}), _LATE),
)
