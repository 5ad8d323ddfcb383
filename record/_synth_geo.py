"""Synthetic network, part 2: partners, locations with receiving hours, the lane graph, contacts.

Locations sit in real US cities (rounded coordinates). Lane kilometres are great-circle distance
times a road circuity factor of 1.2; lane minutes are those kilometres at 65 km/h plus 15 minutes
of handling.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from record._synth_catalog import gln

__all__ = ["LaneSpec", "LocationSpec", "Network", "build_network", "lane_for", "road_km"]

_PLANTS = (
    ("Indianapolis", "IN", 39.77, -86.16, ("crt", "refrigerated")),
    ("Research Triangle Park", "NC", 35.90, -78.86, ("refrigerated", "frozen")),
    ("New Brunswick", "NJ", 40.49, -74.45, ("crt", "refrigerated")),
    ("Kalamazoo", "MI", 42.29, -85.59, ("crt", "frozen")),
    ("Thousand Oaks", "CA", 34.17, -118.84, ("refrigerated", "frozen")),
    ("Boulder", "CO", 40.01, -105.27, ("crt", "refrigerated")),
    ("Kenosha", "WI", 42.58, -87.82, ("crt", "refrigerated", "frozen")),
    ("Greenville", "NC", 35.61, -77.37, ("crt",)),
)
_DCS = (
    ("Memphis", "TN", 35.15, -90.05),
    ("Louisville", "KY", 38.25, -85.76),
    ("Columbus", "OH", 39.96, -82.99),
    ("Dallas", "TX", 32.78, -96.80),
    ("Harrisburg", "PA", 40.27, -76.88),
    ("Reno", "NV", 39.53, -119.81),
    ("Kansas City", "MO", 39.10, -94.58),
    ("Orlando", "FL", 28.54, -81.38),
    ("Sacramento", "CA", 38.58, -121.49),
    ("Salt Lake City", "UT", 40.76, -111.89),
)
_XDOCKS = (
    ("Atlanta", "GA", 33.75, -84.39),
    ("Chicago", "IL", 41.88, -87.63),
    ("Phoenix", "AZ", 33.45, -112.07),
    ("Denver", "CO", 39.74, -104.99),
    ("Charlotte", "NC", 35.23, -80.84),
    ("Seattle", "WA", 47.61, -122.33),
)
_METROS = (
    ("Nashville", "TN", 36.16, -86.78),
    ("Chicago", "IL", 41.88, -87.63),
    ("Atlanta", "GA", 33.75, -84.39),
    ("Cincinnati", "OH", 39.10, -84.51),
    ("St. Louis", "MO", 38.63, -90.20),
    ("Birmingham", "AL", 33.52, -86.80),
    ("Cleveland", "OH", 41.50, -81.69),
    ("Pittsburgh", "PA", 40.44, -79.99),
    ("Lexington", "KY", 38.04, -84.50),
    ("Knoxville", "TN", 35.96, -83.92),
    ("Little Rock", "AR", 34.75, -92.29),
    ("Detroit", "MI", 42.33, -83.05),
    ("Milwaukee", "WI", 43.04, -87.91),
    ("Houston", "TX", 29.76, -95.37),
    ("Austin", "TX", 30.27, -97.74),
    ("Oklahoma City", "OK", 35.47, -97.52),
    ("Omaha", "NE", 41.26, -95.94),
    ("Philadelphia", "PA", 39.95, -75.17),
    ("Baltimore", "MD", 39.29, -76.61),
    ("Richmond", "VA", 37.54, -77.44),
    ("Tampa", "FL", 27.95, -82.46),
    ("Miami", "FL", 25.76, -80.19),
    ("New Orleans", "LA", 29.95, -90.07),
    ("Jackson", "MS", 32.30, -90.18),
    ("Minneapolis", "MN", 44.98, -93.27),
    ("Des Moines", "IA", 41.59, -93.62),
    ("Denver", "CO", 39.74, -104.99),
    ("Phoenix", "AZ", 33.45, -112.07),
    ("Las Vegas", "NV", 36.17, -115.14),
    ("Los Angeles", "CA", 34.05, -118.24),
    ("San Diego", "CA", 32.72, -117.16),
    ("San Francisco", "CA", 37.77, -122.42),
    ("Portland", "OR", 45.52, -122.68),
    ("Boise", "ID", 43.62, -116.20),
    ("Albuquerque", "NM", 35.08, -106.65),
    ("Boston", "MA", 42.36, -71.06),
)
_PHARMACY_NAMES = ("Riverside", "Main Street", "Oakwood", "Lakeside", "Parkview", "Cedar Hill")
_HOSPITAL_NAMES = ("Memorial", "St. Luke's", "University Medical Center", "Mercy General")
_MANUFACTURERS = (
    "Halcyon Biologics",
    "Northfield Pharmaceuticals",
    "Corvant Therapeutics",
    "Ardent Pharma",
    "Bellwether Labs",
    "Solace Biosciences",
    "Tamarack Generics",
    "Vireo Vaccines",
)
_OPEN_ALL = (0, 1, 2, 3, 4, 5, 6)


@dataclass
class LocationSpec:
    """A location and its partner; ``hours`` is ``(opens, closes)`` or None for 24/7."""

    location_id: str
    gln: str
    partner_gln: str
    partner_name: str
    name: str
    kind: str
    lat: float
    lon: float
    classes: tuple[str, ...]
    hours: tuple[time, time] | None
    open_days: tuple[int, ...]
    capacity: int
    tz: str


@dataclass(frozen=True)
class LaneSpec:
    """A directed lane of the road graph."""

    from_id: str
    to_id: str
    km: float
    minutes: int


@dataclass
class Network:
    """Locations by kind, the lane graph and the company prefix of each partner."""

    locations: list[LocationSpec]
    lanes: dict[tuple[str, str], LaneSpec] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)
    partners: dict[str, tuple[str, str]] = field(default_factory=dict)  # gln -> (name, role)
    carrier_gln: str = ""

    def of_kind(self, *kinds: str) -> list[LocationSpec]:
        """Locations of the given kinds, in creation order."""
        return [loc for loc in self.locations if loc.kind in kinds]

    def by_id(self) -> dict[str, LocationSpec]:
        """Locations keyed by id."""
        return {loc.location_id: loc for loc in self.locations}


def road_km(a: LocationSpec, b: LocationSpec) -> float:
    """Road kilometres: great-circle distance times 1.2."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * 6371.0 * math.asin(math.sqrt(h)) * 1.2, 1)


def lane_for(net: Network, a: LocationSpec, b: LocationSpec) -> LaneSpec:
    """The lane from ``a`` to ``b``, added to the graph when missing."""
    key = (a.location_id, b.location_id)
    if key not in net.lanes:
        km = road_km(a, b)
        net.lanes[key] = LaneSpec(a.location_id, b.location_id, km, round(km / 65 * 60) + 15)
    return net.lanes[key]


def _tz(lon: float) -> str:
    if lon > -87.5:
        return "-05:00"
    if lon > -102.0:
        return "-06:00"
    return "-07:00" if lon > -115.0 else "-08:00"


def _count(base: int, r: float, low: int, cap: int) -> int:
    return max(low, min(cap, round(base * r)))


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.net = Network(locations=[])
        self._partners = 0

    def prefix(self) -> str:
        self._partners += 1
        return f"086{1000 + self._partners:04d}"

    def add(self, kind: str, site: tuple, partner: tuple[str, str], **kw: Any) -> None:
        city, state, lat, lon = site[:4]
        rng = self.rng
        jitter = 0.0 if kind in ("plant", "dc", "cross_dock") else 0.08
        lat = round(lat + rng.uniform(-jitter, jitter), 4)
        lon = round(lon + rng.uniform(-jitter, jitter), 4)
        pgln, pname = partner
        ref = sum(1 for loc in self.net.locations if loc.partner_gln == pgln) + 1
        prefix = self.net.prefixes[pgln]
        loc_gln = gln(prefix, ref)
        loc_id = loc_gln
        if kind == "patient_home":
            loc_gln = gln(prefix, 1)
            loc_id = f"{loc_gln}.H{ref:03d}"
        self.net.locations.append(
            LocationSpec(
                location_id=loc_id,
                gln=loc_gln,
                partner_gln=pgln,
                partner_name=pname,
                name=kw["name"].format(city=city, state=state),
                kind=kind,
                lat=lat,
                lon=lon,
                classes=kw["classes"],
                hours=kw.get("hours"),
                open_days=kw.get("days", _OPEN_ALL),
                capacity=kw.get("capacity", 50),
                tz=_tz(lon),
            )
        )

    def partner(self, name: str, role: str) -> tuple[str, str]:
        prefix = self.prefix()
        pgln = gln(prefix, 0)
        self.net.prefixes[pgln] = prefix
        self.net.partners[pgln] = (name, role)
        return pgln, name


def _hubs(b: _Builder, r: float) -> None:
    for i, site in enumerate(_PLANTS[: _count(3, r, 2, len(_PLANTS))]):
        mfr = b.partner(_MANUFACTURERS[i % len(_MANUFACTURERS)], "manufacturer")
        b.add(
            "plant",
            site,
            mfr,
            name=f"{mfr[1]} plant, {{city}} {{state}}",
            classes=site[4],
            hours=(time(6), time(22)),
            days=(0, 1, 2, 3, 4),
        )
    wholesaler = b.partner("Meridian Health Distribution", "wholesaler")
    for dc in _DCS[: _count(3, r, 2, len(_DCS))]:
        b.add(
            "dc",
            dc,
            wholesaler,
            name="Meridian DC {city}",
            classes=("crt", "refrigerated", "frozen"),
            capacity=400,
        )
    tpl = b.partner("ColdLink Logistics", "3pl")
    for xd in _XDOCKS[: _count(2, r, 1, len(_XDOCKS))]:
        b.add(
            "cross_dock",
            xd,
            tpl,
            name="ColdLink cold cross-dock {city}",
            classes=("refrigerated", "frozen"),
            capacity=200,
        )


def _receivers(b: _Builder, r: float) -> None:
    rng = b.rng
    for i in range(_count(8, r, 3, 200)):
        site = _METROS[i % len(_METROS)]
        pname = f"{_PHARMACY_NAMES[i % len(_PHARMACY_NAMES)]} Pharmacy #{101 + i}"
        b.add(
            "pharmacy",
            site,
            b.partner(pname, "dispenser"),
            name=pname + " — {city} {state}",
            classes=("crt", "refrigerated"),
            hours=(time(8), time(20)),
            days=(0, 1, 2, 3, 4, 5),
            capacity=rng.choice((4, 6, 8)),
        )
    for i in range(_count(4, r, 2, 100)):
        site = _METROS[(i * 3 + 1) % len(_METROS)]
        pname = f"{site[0]} {_HOSPITAL_NAMES[i % len(_HOSPITAL_NAMES)]} Hospital"
        b.add(
            "hospital",
            site,
            b.partner(pname, "hospital"),
            name=pname + " receiving dock",
            classes=("crt", "refrigerated", "frozen"),
            hours=(time(6), time(22)),
            capacity=rng.choice((10, 16, 24)),
        )
    specialty = b.partner("CareDirect Specialty Pharmacy", "dispenser")
    for i in range(_count(2, r, 1, 50)):
        site = _METROS[(i * 5 + 2) % len(_METROS)]
        b.add(
            "patient_home",
            site,
            specialty,
            name=f"Patient home delivery {i + 1:03d}, {{city}} {{state}}",
            classes=("refrigerated",),
            hours=(time(9), time(18)),
            days=(0, 1, 2, 3, 4, 5),
            capacity=1,
        )


def _lanes(net: Network) -> None:
    hubs = net.of_kind("plant", "dc", "cross_dock")
    for a in hubs:
        for b in hubs:
            if a is not b:
                lane_for(net, a, b)
    stores = [h for h in hubs if h.kind != "plant"]
    receivers = net.of_kind("pharmacy", "hospital", "patient_home")
    for rec in receivers:
        for hub in sorted(stores, key=lambda h: road_km(rec, h))[:2]:
            lane_for(net, hub, rec)
            lane_for(net, rec, hub)
        others = [o for o in receivers if o is not rec]
        for o in sorted(others, key=lambda h: road_km(rec, h))[:3]:
            lane_for(net, rec, o)
            lane_for(net, o, rec)


def build_network(rng: random.Random, scale: float) -> Network:
    """Locations grow with the square root of the scale (about 20 at scale 1)."""
    b = _Builder(rng)
    r = math.sqrt(scale)
    _hubs(b, r)
    _receivers(b, r)
    b.net.carrier_gln = b.partner("Bluebird Cold Freight", "carrier")[0]
    _lanes(b.net)
    return b.net
