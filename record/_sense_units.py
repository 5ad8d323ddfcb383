"""The per-unit check of a shipment or container: one SQL pass returning each unit's problems."""

from __future__ import annotations

__all__ = ["CHECK_UNITS", "UNIT_REASONS", "scope_sql"]

UNIT_REASONS: dict[str, str] = {
    "not_commissioned": "no commissioning record for this GTIN + serial",
    "not_declared": "physically in the container but absent from the shipment's unit data",
    "declared_lot_missing": "the shipment's unit data has no lot",
    "declared_expiry_missing": "the shipment's unit data has no expiry",
    "lot_mismatch": "declared lot differs from the commissioned lot",
    "expiry_mismatch": "declared expiry differs from the commissioned expiry",
    "container_mismatch": "declared case differs from the case the record aggregates it in",
    "status_suspect": "unit is marked suspect",
    "status_quarantined": "unit is quarantined",
    "status_decommissioned": "unit was decommissioned",
    "status_dispensed": "unit was already dispensed",
    "aggregation_mismatch": "its case or pallet holds a different number of children than declared",
    "lot_recalled": "its lot is recalled",
    "lot_quarantined": "its lot is quarantined",
    "expired": "expiry date has passed",
    "short_dated": "expires before delivery plus the product's minimum shelf life",
    "in_other_shipment": "the same GTIN + serial is declared on another undelivered shipment",
}

SCOPE = {
    "shipment": "shipment_id = $subject",
    "container": "container_id = $subject",
}
_SCOPE = """
WITH RECURSIVE scope(container_id, shipment_id) AS (
    SELECT container_id, shipment_id FROM containers WHERE {roots}
    UNION
    SELECT c.container_id, c.shipment_id FROM containers c
    JOIN scope s ON c.parent_id = s.container_id
)
SELECT list(container_id ORDER BY container_id),
       list(DISTINCT shipment_id) FILTER (WHERE shipment_id IS NOT NULL)
FROM scope
"""

# $ids: the containers in scope; $ships: the shipments whose unit data counts; $whole: the
# whole shipment is in scope (else only units declared in the containers in scope).
_CHECK = """
WITH declared AS MATERIALIZED (
    SELECT * FROM shipment_units
    WHERE shipment_id IN (SELECT unnest($ships))
      AND ($whole OR container_id IN (SELECT unnest($ids)))
),
physical AS MATERIALIZED (SELECT * FROM units WHERE container_id IN (SELECT unnest($ids))),
boxes AS MATERIALIZED (
    SELECT container_id, parent_id, declared_children, shipment_id FROM containers
    WHERE container_id IN (SELECT unnest($ids))
),
outside AS MATERIALIZED (  -- declared here, but the record keeps them elsewhere (or nowhere)
    SELECT u.* FROM units u
    SEMI JOIN (SELECT gtin, serial FROM declared ANTI JOIN physical USING (gtin, serial)) x
         ON x.gtin = u.gtin AND x.serial = u.serial
),
rec AS (SELECT * FROM physical UNION ALL SELECT * FROM outside),
places AS (  -- the containers the units are in: those in scope, and those of outside units
    SELECT container_id, parent_id, shipment_id FROM boxes
    UNION ALL
    SELECT container_id, parent_id, shipment_id FROM containers
    WHERE container_id IN (SELECT container_id FROM outside)
      AND container_id NOT IN (SELECT container_id FROM boxes)
),
kids AS (
    SELECT container_id, count(*) AS n FROM physical GROUP BY ALL
    UNION ALL
    SELECT parent_id, count(*) FROM boxes WHERE parent_id IS NOT NULL GROUP BY ALL
),
bad_c AS MATERIALIZED (
    SELECT b.container_id FROM boxes b
    LEFT JOIN (SELECT container_id, sum(n) AS n FROM kids GROUP BY ALL) k USING (container_id)
    WHERE b.declared_children IS NOT NULL AND b.declared_children <> coalesce(k.n, 0)
),
keys AS (SELECT gtin, serial FROM physical UNION ALL SELECT gtin, serial FROM declared),
hits AS MATERIALIZED (  -- every declaration of these units, on any shipment
    SELECT o.gtin, o.serial, o.shipment_id FROM shipment_units o
    SEMI JOIN keys k ON k.gtin = o.gtin AND k.serial = o.serial
),
open_hits AS MATERIALIZED (
    SELECT h.* FROM hits h JOIN shipments s ON s.shipment_id = h.shipment_id
    WHERE s.status <> 'delivered'
),
others AS (  -- units declared on more than one undelivered shipment
    SELECT h.gtin, h.serial, list(h.shipment_id ORDER BY h.shipment_id) AS ships
    FROM open_hits h
    SEMI JOIN (SELECT gtin, serial FROM open_hits GROUP BY ALL HAVING count(*) > 1) x
         ON x.gtin = h.gtin AND x.serial = h.serial
    GROUP BY ALL
),
j AS (
    SELECT coalesce(d.gtin, u.gtin) AS gtin, coalesce(d.serial, u.serial) AS serial,
           d.shipment_id AS declared_shipment, d.lot AS declared_lot,
           d.expiry AS declared_expiry, d.container_id AS declared_container,
           u.lot, u.expiry, u.status, u.container_id, u.commissioned_at,
           d.gtin IS NOT NULL OR cc.shipment_id IS NULL AS is_declared,
           u.commissioned_at IS NOT NULL AS commissioned,
           coalesce(d.shipment_id, cc.shipment_id) AS shipment_id, cc.parent_id,
           coalesce(u.lot, d.lot) AS eff_lot, coalesce(u.expiry, d.expiry) AS eff_expiry,
           list_filter(o.ships, lambda x: x <> coalesce(d.shipment_id, cc.shipment_id, ''))
               AS other_ships
    FROM declared d
    FULL OUTER JOIN rec u ON u.gtin = d.gtin AND u.serial = d.serial
    LEFT JOIN places cc ON cc.container_id = coalesce(u.container_id, d.container_id)
    LEFT JOIN others o
           ON o.gtin = coalesce(d.gtin, u.gtin) AND o.serial = coalesce(d.serial, u.serial)
),
r AS (
    SELECT j.*, l.status AS lot_status,
           concat_ws(' ',
               CASE WHEN NOT commissioned THEN 'not_commissioned' END,
               CASE WHEN NOT is_declared THEN 'not_declared' END,
               CASE WHEN is_declared AND declared_lot IS NULL THEN 'declared_lot_missing' END,
               CASE WHEN is_declared AND declared_expiry IS NULL THEN 'declared_expiry_missing' END,
               CASE WHEN commissioned AND declared_lot <> j.lot THEN 'lot_mismatch' END,
               CASE WHEN commissioned AND declared_expiry <> j.expiry THEN 'expiry_mismatch' END,
               CASE WHEN is_declared AND j.container_id IS NOT NULL
                     AND declared_container IS DISTINCT FROM j.container_id
                    THEN 'container_mismatch' END,
               CASE WHEN j.status IN ('suspect', 'quarantined', 'decommissioned', 'dispensed')
                    THEN 'status_' || j.status END,
               CASE WHEN b1.container_id IS NOT NULL OR b2.container_id IS NOT NULL
                    THEN 'aggregation_mismatch' END,
               CASE l.status WHEN 'recalled' THEN 'lot_recalled'
                             WHEN 'quarantined' THEN 'lot_quarantined' END,
               CASE WHEN eff_expiry < $now::DATE THEN 'expired'
                    WHEN eff_expiry < coalesce(s.eta, s.planned_departure, $now)::DATE
                                      + p.min_shelf_life_days THEN 'short_dated' END,
               CASE WHEN len(other_ships) > 0 THEN 'in_other_shipment' END
           ) AS reasons
    FROM j
    LEFT JOIN lots l ON l.gtin = j.gtin AND l.lot = j.eff_lot
    LEFT JOIN products p ON p.gtin = j.gtin
    LEFT JOIN shipments s ON s.shipment_id = j.shipment_id
    LEFT JOIN bad_c b1 ON b1.container_id = coalesce(j.container_id, j.declared_container)
    LEFT JOIN bad_c b2 ON b2.container_id = j.parent_id
)
SELECT gtin, serial, shipment_id, coalesce(container_id, declared_container) AS container_id,
       string_split(reasons, ' ') AS reasons, declared_lot, lot, declared_expiry, expiry, status,
       lot_status, coalesce(other_ships, []) AS other_ships
FROM r WHERE reasons <> ''
ORDER BY gtin, serial
"""


def scope_sql(scope: str) -> str:
    """Containers (recursively) and shipments in scope of a ``"shipment"`` or ``"container"``."""
    return _SCOPE.format(roots=SCOPE[scope])


CHECK_UNITS = _CHECK
