"""Synthetic network, part 1: GS1 keys, partners' prefixes, the product catalogue and lots.

Everything here is small and generated in Python from a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = [
    "CLASS_RANGES",
    "SETPOINTS",
    "LotSpec",
    "ProductSpec",
    "check_digit",
    "gln",
    "make_lots",
    "make_products",
    "sscc",
]

# USP <659> storage classes: (min °C, max °C).
CLASS_RANGES: dict[str, tuple[float, float]] = {
    "crt": (20.0, 25.0),
    "refrigerated": (2.0, 8.0),
    "frozen": (-25.0, -10.0),
}
# Where assets and storage hold each class.
SETPOINTS: dict[str, float] = {"crt": 22.5, "refrigerated": 5.0, "frozen": -18.0}


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit: weights 3, 1, 3, ... from the rightmost digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gln(prefix: str, ref: int) -> str:
    """A 13-digit GLN from a 7-digit company prefix and a location reference."""
    body = f"{prefix}{ref:0{12 - len(prefix)}d}"
    return body + check_digit(body)


def sscc(prefix: str, serial_ref: int, extension: int = 0) -> str:
    """An 18-digit SSCC: extension digit, company prefix, serial reference, check digit."""
    body = f"{extension}{prefix}{serial_ref:0{16 - len(prefix)}d}"
    return body + check_digit(body)


@dataclass(frozen=True)
class ProductSpec:
    """One trade item of the catalogue."""

    gtin: str
    case_gtin: str
    ndc: str
    name: str
    temp_class: str
    budget_min: int
    shelf_days: int
    case_size: int
    dosage_form: str
    strength: str
    plant_id: str
    manufacturer_gln: str


@dataclass(frozen=True)
class LotSpec:
    """A production lot: commissioned at ``produced_at`` at the product's plant."""

    gtin: str
    lot: str
    expiry: date
    produced_at: datetime


# (name, dosage form, strength, class)
_CATALOGUE: tuple[tuple[str, str, str, str], ...] = (
    ("Insulin glargine 100 units/mL prefilled pen", "injection", "100 units/mL", "refrigerated"),
    ("Insulin lispro 100 units/mL 10 mL vial", "injection", "100 units/mL", "refrigerated"),
    ("Adalimumab 40 mg/0.4 mL prefilled syringe", "injection", "40 mg/0.4 mL", "refrigerated"),
    ("Etanercept 50 mg/mL autoinjector", "injection", "50 mg/mL", "refrigerated"),
    ("Pegfilgrastim 6 mg/0.6 mL prefilled syringe", "injection", "6 mg/0.6 mL", "refrigerated"),
    ("Epoetin alfa 10,000 units/mL vial", "injection", "10,000 units/mL", "refrigerated"),
    ("Dulaglutide 1.5 mg/0.5 mL pen", "injection", "1.5 mg/0.5 mL", "refrigerated"),
    ("Semaglutide 1 mg/dose pen", "injection", "1 mg/dose", "refrigerated"),
    ("Influenza vaccine quadrivalent 0.5 mL syringe", "injection", "0.5 mL", "refrigerated"),
    ("Hepatitis B vaccine recombinant 1 mL vial", "injection", "20 mcg/mL", "refrigerated"),
    ("Tdap vaccine 0.5 mL syringe", "injection", "0.5 mL", "refrigerated"),
    ("Pneumococcal conjugate vaccine 0.5 mL syringe", "injection", "0.5 mL", "refrigerated"),
    ("Trastuzumab 150 mg lyophilized vial", "injection", "150 mg", "refrigerated"),
    ("Rituximab 500 mg/50 mL vial", "injection", "10 mg/mL", "refrigerated"),
    ("Latanoprost 0.005% ophthalmic solution 2.5 mL", "solution", "0.005%", "refrigerated"),
    ("Filgrastim 480 mcg/0.8 mL syringe", "injection", "480 mcg/0.8 mL", "refrigerated"),
    ("Varicella virus vaccine live 0.5 mL vial", "injection", "1,350 PFU", "frozen"),
    ("Measles, mumps, rubella and varicella vaccine live", "injection", "0.5 mL", "frozen"),
    ("Zoster vaccine live 0.65 mL vial", "injection", "19,400 PFU", "frozen"),
    ("COVID-19 vaccine, mRNA 0.5 mL multi-dose vial", "injection", "50 mcg/0.5 mL", "frozen"),
    ("RSV vaccine, mRNA 0.5 mL syringe", "injection", "50 mcg/0.5 mL", "frozen"),
    ("Dinoprostone 10 mg vaginal insert", "insert", "10 mg", "frozen"),
    ("Atorvastatin calcium 20 mg tablets, 90 ct", "tablet", "20 mg", "crt"),
    ("Metformin hydrochloride 500 mg tablets, 100 ct", "tablet", "500 mg", "crt"),
    ("Lisinopril 10 mg tablets, 90 ct", "tablet", "10 mg", "crt"),
    ("Amlodipine besylate 5 mg tablets, 90 ct", "tablet", "5 mg", "crt"),
    ("Levothyroxine sodium 50 mcg tablets, 90 ct", "tablet", "50 mcg", "crt"),
    ("Sertraline 50 mg tablets, 30 ct", "tablet", "50 mg", "crt"),
    ("Omeprazole 20 mg delayed-release capsules, 30 ct", "capsule", "20 mg", "crt"),
    ("Amoxicillin 500 mg capsules, 30 ct", "capsule", "500 mg", "crt"),
    ("Gabapentin 300 mg capsules, 90 ct", "capsule", "300 mg", "crt"),
    ("Losartan potassium 50 mg tablets, 90 ct", "tablet", "50 mg", "crt"),
    ("Albuterol sulfate HFA 90 mcg inhaler", "aerosol", "90 mcg/actuation", "crt"),
    ("Montelukast sodium 10 mg tablets, 30 ct", "tablet", "10 mg", "crt"),
    ("Apixaban 5 mg tablets, 60 ct", "tablet", "5 mg", "crt"),
    ("Enoxaparin sodium 40 mg/0.4 mL syringe", "injection", "40 mg/0.4 mL", "crt"),
    ("Ondansetron 4 mg orally disintegrating tablets, 30 ct", "tablet", "4 mg", "crt"),
    ("Escitalopram 10 mg tablets, 30 ct", "tablet", "10 mg", "crt"),
    ("Hydrochlorothiazide 25 mg tablets, 90 ct", "tablet", "25 mg", "crt"),
    ("Prednisone 10 mg tablets, 21 ct", "tablet", "10 mg", "crt"),
)
_BUDGETS = {
    "refrigerated": (60, 120, 180, 240, 360, 480, 720),
    "frozen": (60, 90, 120, 240),
    "crt": (720, 1440),
}
_CASE_SIZES = {"refrigerated": (10, 20, 24), "frozen": (10, 20), "crt": (12, 24, 48)}


def make_products(
    rng: random.Random, plants: list[tuple[str, str, tuple[str, ...]]]
) -> list[ProductSpec]:
    """The catalogue, each product made at a plant that handles its class.

    ``plants`` are ``(location_id, manufacturer_gln, classes)``. GTIN-14 = ``0`` + ``03`` +
    NDC10 (5-digit labeler, 3-digit product, 2-digit package) + check digit; the case GTIN
    uses packaging indicator 5.
    """
    products = []
    turn: dict[str, int] = {}
    for i, (name, form, strength, cls) in enumerate(_CATALOGUE):
        able = [p for p in plants if cls in p[2]] or plants
        k = turn.get(cls, 0)
        turn[cls] = k + 1
        plant_index = plants.index(able[k % len(able)])
        plant_id, mfr_gln, _ = plants[plant_index]
        labeler = f"{70123 + 611 * plant_index:05d}"
        ndc = f"{labeler}{100 + i * 7:03d}{rng.randrange(1, 99):02d}"
        body = "003" + ndc
        case_body = "503" + ndc
        products.append(
            ProductSpec(
                gtin=body + check_digit(body),
                case_gtin=case_body + check_digit(case_body),
                ndc=ndc,
                name=name,
                temp_class=cls,
                budget_min=rng.choice(_BUDGETS[cls]),
                shelf_days=rng.choice((60, 90, 120, 180)),
                case_size=rng.choice(_CASE_SIZES[cls]),
                dosage_form=form,
                strength=strength,
                plant_id=plant_id,
                manufacturer_gln=mfr_gln,
            )
        )
    return products


def make_lots(
    rng: random.Random, products: list[ProductSpec], per_product: int, now: datetime
) -> list[LotSpec]:
    """``per_product`` lots per product, produced 30-200 days ago, expiring in 10-34 months."""
    lots = []
    for p in products:
        codes: list[str] = []
        while len(codes) < per_product:
            letter = rng.choice("ABCDEFGHKLMNPRSTWXZ")
            code = f"{letter}{rng.randrange(24, 27)}{rng.randrange(1000, 9999)}"
            if code not in codes:
                codes.append(code)
        for code in codes:
            produced = now - timedelta(days=rng.randrange(30, 200), hours=rng.randrange(0, 20))
            produced = produced.replace(minute=0, second=0, microsecond=0)
            expiry = (now + timedelta(days=rng.randrange(300, 1030))).date().replace(day=1)
            lots.append(LotSpec(p.gtin, code, expiry, produced))
    return lots
