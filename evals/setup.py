"""A fresh record per case run: a cached template network, copied, then patched.

The synthetic network for a ``(seed, scale)`` is generated once into the cache folder (its file
name carries a fingerprint of the schema and generator sources, so a changed generator is
re-seeded) and copied per run, which takes milliseconds.

Patches (``evals.patches``) are applied on the copy; see that module for the vocabulary.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from evals.patches import SetupError, sense
from record.store import Store

__all__ = ["SetupError", "Template", "fresh_copy", "template_for"]

_ROOT = Path(__file__).resolve().parents[1]
_SYNTH_SOURCES = ("record/sql", "record/synth.py", "record/_synth_*.py", "record/identifiers.py")
_SENSE_SOURCES = ("record/sensing.py", "record/_sense_*.py")


@dataclass(frozen=True)
class Template:
    """A seeded network file and its clock."""

    path: Path
    seed: int
    scale: float
    now: datetime
    sensed: bool = False


def _fingerprint(patterns: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for pattern in patterns:
        base = _ROOT / pattern
        files = sorted(base.glob("*.sql")) if base.is_dir() else sorted(_ROOT.glob(pattern))
        for f in files:
            digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:10]


def _now(path: Path) -> datetime:
    from record import synth

    with Store(path, read_only=True) as store:
        return datetime.fromisoformat(store.get_meta("network_now") or synth.ANCHOR.isoformat())


def template_for(seed: int, scale: float, cache_dir: Path, *, sensed: bool = False) -> Template:
    """The cached template network for ``(seed, scale)``, generating it on first use.

    ``sensed``: a variant on which sensing has already recorded its exceptions (so a case whose
    first patch senses does not pay for it on every run).
    """
    from record import synth

    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"net-s{seed}-x{scale:g}-{_fingerprint(_SYNTH_SOURCES)}.duckdb"
    if not path.exists():
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.duckdb")
        partial.unlink(missing_ok=True)
        with Store(partial) as store:
            synth.generate(store, scale=scale, seed=seed)
        partial.replace(path)
    if not sensed:
        _prune(cache_dir, seed, scale, keep={path})
        return Template(path, seed, scale, _now(path))
    sensed_path = path.with_name(f"{path.stem}-sensed-{_fingerprint(_SENSE_SOURCES)}.duckdb")
    if not sensed_path.exists():
        partial = sensed_path.with_name(f"{sensed_path.stem}.{os.getpid()}.partial.duckdb")
        shutil.copyfile(path, partial)
        with Store(partial) as store:
            sense(store, _now(path))
        partial.replace(sensed_path)
    _prune(cache_dir, seed, scale, keep={path, sensed_path})
    return Template(sensed_path, seed, scale, _now(path), sensed=True)


def _prune(cache_dir: Path, seed: int, scale: float, keep: set[Path]) -> None:
    """Drop this (seed, scale)'s templates built from sources that have changed since."""
    base = f"net-s{seed}-x{scale:g}-{_fingerprint(_SYNTH_SOURCES)}"
    sensed = f"{base}-sensed-{_fingerprint(_SENSE_SOURCES)}"
    for old in cache_dir.glob(f"net-s{seed}-x{scale:g}-*.duckdb*"):
        stem = old.name.split(".duckdb")[0]
        if old not in keep and stem not in (base, sensed):
            old.unlink(missing_ok=True)


def fresh_copy(template: Template, folder: Path, name: str) -> Path:
    """A private copy of the template for one run."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.duckdb"
    for stale in folder.glob(f"{name}.duckdb*"):
        stale.unlink()
    shutil.copyfile(template.path, target)
    return target
