"""A seeded, deterministic synthetic pharma supply network — the demo's data, the evals' fixtures
and the benchmarks' workload.

``generate(store, scale=1, seed=7)`` builds, in one transaction:

- about ``20 * sqrt(scale)`` locations (plants, DCs, cold cross-docks, pharmacies, hospitals,
  patient homes) in real US cities, with receiving hours and storage classes, on a lane graph;
- 40 products (GTIN-14 built from NDCs, USP <659> ranges, stability budgets, shelf-life rules) and
  ``3 * scale`` lots each;
- about ``200 * scale`` shipments on routes (line hauls, multi-stop distribution runs, home
  deliveries) in every status, with orders, stops, promised windows, TI/TS, ePOD, contacts;
- about ``50,000 * scale`` serialized units in cases on SSCC pallets, the shipments' unit-level
  data, EPCIS-style custody events (commissioning, packing, shipping, receiving);
- about ``200,000 * scale`` sensor readings: every asset reports every 5 minutes over 14 days.

With ``inject=True`` every exception kind of ``record.models.EXCEPTION_KINDS`` is injected
``max(1, round(3 * scale))`` times in its variants, and the ground truth goes to ``synth_truth``
with the subject convention of ``record.sensing``. Normal data trips no sensor.

Same ``seed`` and ``scale`` give identical content: Python draws come from ``random.Random``
seeded by a string, bulk SQL draws from ``hash(seed, ...)``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from record._synth_bulk import write_bulk
from record._synth_catalog import make_lots, make_products
from record._synth_geo import build_network
from record._synth_inject_cold import COLD_STEPS
from record._synth_inject_ids import ID_STEPS
from record._synth_pallet import build_pallet
from record._synth_plan import plan_routes
from record._synth_truth import Injector
from record._synth_write import insert_rows, write_small
from record.clock import utc_naive
from record.errors import InputError
from record.store import Cursor, Store

__all__ = ["ANCHOR", "SynthSummary", "build_pallet", "generate"]

ANCHOR = datetime(2026, 11, 23, 6, 0)
"""Default "now" of a seeded network: Monday 23 November 2026, 06:00 UTC."""

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote."""

    seed: int
    scale: float
    now: datetime
    locations: int
    lanes: int
    products: int
    lots: int
    units: int
    containers: int
    shipments: int
    routes: int
    assets: int
    readings: int
    events: int
    injected: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _sizes(scale: float) -> dict[str, int]:
    return {
        "shipments": max(60, round(200 * scale)),
        "assets": max(10, round(48 * scale)),
        "lots": max(1, round(3 * scale)),
        "per_kind": max(1, round(3 * scale)),
    }


def _inject(cur: Cursor, rng: random.Random, now: datetime, per_kind: int) -> dict[str, int]:
    inj = Injector(cur, rng, now)
    for step in (*COLD_STEPS, *ID_STEPS):
        for i in range(per_kind):
            step(inj, i)
    inj.apply()
    insert_rows(cur, "synth_truth", ("kind", "subject", "shipment_id", "details"), inj.truth)
    counts: dict[str, int] = {}
    for kind, *_ in inj.truth:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _count(store: Store, table: str) -> int:
    return int(store.scalar(f"SELECT count(*) FROM {table}") or 0)


def generate(
    store: Store,
    *,
    scale: float = 1.0,
    seed: int = 7,
    inject: bool = True,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SynthSummary:
    """Seed ``store`` (an empty record) with a synthetic network.

    Args:
        store: an open, writable, empty record.
        scale: size factor; 1 is the demo (~200 shipments, ~50k units, ~200k readings).
        seed: same seed and scale give identical content.
        inject: inject every exception kind and record the truth in ``synth_truth``.
        now: the network's "now" (default :data:`ANCHOR`), stored as meta ``network_now``.
        progress: called as ``progress(stage, fraction_done)``.

    Returns:
        Counts of what was written.

    Raises:
        InputError: if ``scale`` is not positive or the record already holds shipments.
    """
    if not scale > 0:
        raise InputError(f"scale {scale}: must be greater than 0, e.g. 1 for the demo network")
    if _count(store, "shipments"):
        raise InputError(f"database {store.path} already holds shipments; seed a new file")
    started = time.perf_counter()
    say = progress or (lambda stage, done: None)
    moment = utc_naive(now or ANCHOR).replace(second=0, microsecond=0)
    moment -= timedelta(minutes=moment.minute % 5)
    sizes = _sizes(scale)
    rng = random.Random(f"proofline-synth:{seed}")
    say("network", 0.0)
    net = build_network(rng, scale)
    plants = [(x.location_id, x.partner_gln, x.classes) for x in net.of_kind("plant")]
    products = make_products(rng, plants)
    lots = make_lots(rng, products, sizes["lots"], moment)
    say("routes", 0.05)
    plan = plan_routes(
        rng, net, products, lots, moment, shipments=sizes["shipments"], assets=sizes["assets"]
    )
    stages = {"units": 0.25, "events": 0.45, "readings": 0.6}
    injected: dict[str, int] = {}
    say("tables", 0.15)
    with store.transaction() as cur:
        write_small(cur, rng, net, products, lots, plan, moment)
    write_bulk(
        store,
        plan,
        products,
        lots,
        net,
        moment,
        seed,
        rng,
        step=lambda name: say(name, stages[name]),
    )
    with store.transaction() as cur:
        if inject:
            say("inject", 0.85)
            injected = _inject(cur, rng, moment, sizes["per_kind"])
        for key, value in (
            ("network_now", moment.isoformat()),
            ("synth_seed", str(seed)),
            ("synth_scale", repr(float(scale))),
        ):
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
    say("done", 1.0)
    return SynthSummary(
        seed=seed,
        scale=scale,
        now=moment,
        locations=len(net.locations),
        lanes=len(net.lanes),
        products=len(products),
        lots=len(lots),
        units=_count(store, "units"),
        containers=_count(store, "containers"),
        shipments=len(plan.shipments),
        routes=len(plan.routes),
        assets=len(plan.assets),
        readings=_count(store, "sensor_readings"),
        events=_count(store, "custody_events"),
        injected=injected,
        seconds=round(time.perf_counter() - started, 3),
    )
