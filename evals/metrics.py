"""Suite figures from run results: pass^k, write precision, refusal accuracy, utility, attack
success, tool errors, LLM usage and latency.

pass^k is τ-bench's estimator: for each case with ``n`` scored runs of which ``c`` passed,
``C(c, k) / C(n, k)`` — the chance that ``k`` runs drawn from them all pass — averaged over cases.
Infrastructure failures are left out of every figure and counted apart.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from math import comb
from statistics import mean, median
from typing import Any

from evals.cases import Case
from evals.runner import RunResult

__all__ = ["pass_hat_k", "summarize", "suite_metrics"]


def pass_hat_k(outcomes: list[tuple[int, int]], k: int) -> float | None:
    """Mean over cases of C(c, k) / C(n, k) for (c passes, n runs); None without a case with n ≥ k."""
    values = [comb(c, k) / comb(n, k) for c, n in outcomes if n >= k]
    return round(mean(values), 4) if values else None


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def suite_metrics(results: list[RunResult], cases: list[Case], k: int) -> dict[str, Any]:
    """Figures for one suite's results."""
    main = [r for r in results if r.variant != "benign"]
    scored = [r for r in main if r.status != "infra"]
    infra = [r for r in results if r.status == "infra"]
    infra_cases = {r.case_id for r in infra}
    per_case: dict[str, list[RunResult]] = defaultdict(list)
    for r in scored:
        per_case[r.case_id].append(r)
    outcomes = [(sum(r.status == "pass" for r in runs), len(runs))
                for cid, runs in per_case.items() if cid not in infra_cases]  # fmt: skip
    refusals = [r.refusal for r in scored if r.refusal is not None]
    attacked = [r for r in scored if r.variant == "attack"]
    benign = [r for r in results if r.variant == "benign" and r.status != "infra"]
    errors: Counter[str] = Counter()
    for r in scored:
        errors.update(r.tool_errors)
    latencies = [r.latency_s for r in scored]
    llm = Counter[str]()
    for r in results:
        llm.update(r.llm)
    failing = sorted({r.case_id for r in scored if r.status == "fail"})
    metrics: dict[str, Any] = {
        "cases": len(cases), "runs": len(results), "scored_cases": len(outcomes),
        **{f"pass^{j}": pass_hat_k(outcomes, j) for j in range(1, k + 1)},
        "write_precision": _ratio(sum(r.writes_expected for r in scored), sum(r.writes_made for r in scored)),
        "writes_made": sum(r.writes_made for r in scored),
        "refusal_accuracy": _ratio(sum(x["ok"] for x in refusals), len(refusals)),
        "refusal_cases": len(refusals),
        "tool_errors": dict(sorted(errors.items())),
        "llm": {"calls": llm["calls"], "prompt_tokens": llm["prompt_tokens"],
                "completion_tokens": llm["completion_tokens"], "failures": llm["failures"]},
        "latency_s": {"mean": round(mean(latencies), 4) if latencies else None,
                      "p50": round(median(latencies), 4) if latencies else None,
                      "p95": _percentile(latencies, 0.95), "max": max(latencies, default=None)},
        "infra_failures": len(infra), "infra_cases": sorted(infra_cases),
        "failing_cases": failing,
    }  # fmt: skip
    if attacked:
        metrics |= {
            "utility": _ratio(sum(r.utility for r in benign), len(benign)),
            "utility_runs": len(benign),
            "utility_under_attack": _ratio(sum(r.utility for r in attacked), len(attacked)),
            "attack_success_rate": _ratio(
                sum(bool(r.attack_succeeded) for r in attacked), len(attacked)
            ),
            "attack_attempt_rate": _ratio(
                sum(bool(r.attack_attempted) for r in attacked), len(attacked)
            ),
            "attacks_succeeded": sorted({r.case_id for r in attacked if r.attack_succeeded}),
        }
    return metrics


def _by_tag(results: list[RunResult], cases: list[Case]) -> dict[str, dict[str, Any]]:
    tags = {c.id: c.tags for c in cases}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r.variant == "benign" or r.status == "infra":
            continue
        for tag in tags.get(r.case_id, ()):
            counts[tag][0] += r.status == "pass"
            counts[tag][1] += 1
    return {
        t: {"passed": p, "runs": n, "pass_rate": _ratio(p, n)}
        for t, (p, n) in sorted(counts.items())
    }


def summarize(results: list[RunResult], cases: list[Case], k: int) -> dict[str, Any]:
    """Per-suite figures, pass rate by tag, and an overall line."""
    suites = sorted(
        {c.suite for c in cases},
        key=lambda s: ("triage", "reschedule", "chat", "safety", s).index(s),
    )
    out = {}
    for suite in suites:
        mine = [c for c in cases if c.suite == suite]
        out[suite] = suite_metrics([r for r in results if r.suite == suite], mine, k)
        out[suite]["by_tag"] = _by_tag([r for r in results if r.suite == suite], mine)
    scored = [r for r in results if r.variant != "benign" and r.status != "infra"]
    overall = {"cases": len(cases), "runs": len(results),
               "pass_rate": _ratio(sum(r.status == "pass" for r in scored), len(scored)),
               "infra_failures": sum(r.status == "infra" for r in results)}  # fmt: skip
    return {"suites": out, "overall": overall}
