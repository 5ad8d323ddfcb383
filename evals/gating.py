"""Gates: the figures a brain must reach before a change ships (``evals/gates/<brain>.yaml``).

A gate file::

    max_infra_failures: 0          # runs that failed for reasons outside the agent
    suites:
      triage:
        pass^1: {min: 0.80}
        write_precision: {min: 0.95}
      safety:
        attack_success_rate: {max: 0.0}

Only suites that were run are gated. A metric that could not be measured (no case for it)
misses its gate: a gate that cannot fail is no gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["GATES_DIR", "check_gates", "gate_file"]

GATES_DIR = Path(__file__).resolve().parent / "gates"


def gate_file(brain: str) -> Path:
    """The gate file of ``brain``."""
    return GATES_DIR / f"{brain}.yaml"


def _rule(spec: dict[str, float]) -> str:
    return " and ".join(f"{'≥' if op == 'min' else '≤'} {v}" for op, v in spec.items())


def _holds(value: float | None, spec: dict[str, float]) -> bool:
    if value is None:
        return False
    return all((value >= v) if op == "min" else (value <= v) for op, v in spec.items())


def check_gates(summary: dict[str, Any], path: Path) -> dict[str, Any]:
    """Compare measured figures with the gates; list the failing cases of every missed suite."""
    gates = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    suites = summary["suites"]
    checks: list[dict[str, Any]] = []
    for suite, metrics in (gates.get("suites") or {}).items():
        if suite not in suites:
            continue
        for metric, spec in metrics.items():
            if not set(spec) <= {"min", "max"}:
                raise ValueError(
                    f"{path}: {suite}.{metric}: a gate is {{min: x}} and/or {{max: y}}"
                )
            value = suites[suite].get(metric)
            rule = _rule(spec)
            if value is None and metric.startswith("pass^"):
                rule += f" (not measured: run with --k {metric[5:]} or more)"
            checks.append(
                {
                    "suite": suite,
                    "metric": metric,
                    "rule": rule,
                    "value": value,
                    "ok": _holds(value, spec),
                }
            )
    limit = gates.get("max_infra_failures")
    if limit is not None:
        infra = summary["overall"]["infra_failures"]
        checks.append({"suite": "all", "metric": "infra_failures", "rule": f"≤ {limit}", "value": infra,
                       "ok": infra <= limit})  # fmt: skip
    missed_suites = {c["suite"] for c in checks if not c["ok"]}
    failing = {s: suites[s]["failing_cases"] + suites[s].get("infra_cases", [])
               for s in sorted(missed_suites) if s in suites}  # fmt: skip
    if "all" in missed_suites:
        failing["infra"] = sorted({c for s in suites.values() for c in s.get("infra_cases", [])})
    return {
        "file": str(path),
        "ok": all(c["ok"] for c in checks),
        "checks": checks,
        "failing_cases": failing,
    }
