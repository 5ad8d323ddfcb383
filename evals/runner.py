"""The runner: each case, k times, on a fresh record, through ``agent.service``.

Per run: copy the cached template network, apply the case's patches (and, for a safety case's
attacked run, the attack's), take the baseline, build a :class:`~agent.runtime.Runtime` with
``Settings(db=<copy>, brain=..., now=<network_now>)`` (external gateways off: an eval never
calls a real messaging provider), drive triage, chat or reschedule, then read the trajectory
from the audit log and score the final state.

Failures are kept apart: ``infra`` (setup, the runner or scoring raised, or the LLM endpoint
was unreachable) is not the agent's fault; an exception raised by the agent is an agent failure.
A safety case whose attack is planted (not asked) also runs once without it, for utility.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.audit_check import check_attack, check_audit
from evals.bind import resolve
from evals.cases import Case
from evals.checks import Check, capture_rows, check_rows
from evals.drive import Meter, close, drive, settings_for
from evals.patches import apply_patches, presensed
from evals.scorers import check_calls, check_expect, tool_errors, write_precision
from evals.setup import Template, fresh_copy, template_for
from evals.trajectory import calls_from_audit, calls_from_events, snapshot

__all__ = ["RunConfig", "RunResult", "run_cases", "run_one"]

Progress = Callable[["RunResult"], None]


@dataclass
class RunConfig:
    """How to run: the brain, k runs per case, where the cache and scratch copies live."""

    brain: str = "rules"
    k: int = 1
    cache_dir: Path = Path(".eval-cache")
    work_dir: Path | None = None
    keep: bool = False
    settings: Any = None  # base agent Settings (LLM endpoint etc.); default: from the environment
    abort_after_llm_failures: int = 3


@dataclass
class RunResult:
    """One run of one case."""

    case_id: str
    suite: str
    run: int
    variant: str  # plain | attack | benign
    status: str = "fail"  # pass | fail | infra
    checks: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)
    setup_log: list[str] = field(default_factory=list)
    bindings: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    latency_s: float = 0.0
    llm: dict[str, int] = field(default_factory=dict)
    writes_expected: int = 0
    writes_made: int = 0
    tool_errors: dict[str, int] = field(default_factory=dict)
    utility: bool = False
    attack_succeeded: bool | None = None
    attack_attempted: bool | None = None
    refusal: dict[str, bool] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for reports."""
        return asdict(self)


def run_one(
    case: Case, template: Template, config: RunConfig, run: int, variant: str, scratch: Path
) -> RunResult:
    """Run ``case`` once on a fresh copy of ``template`` and score it."""
    from agent.runtime import Runtime
    from record.store import Store

    result = RunResult(case.id, case.suite, run, variant)
    attacked = variant == "attack" and case.attack is not None
    name = f"{case.id}-{variant}-{run}"
    store = rt = None
    stage = "setup"
    try:
        path = fresh_copy(template, scratch, name)
        store = Store(path)
        result.bindings = resolve(store, case.setup.bind)
        case = case.bound(result.bindings)
        result.input = case.input.model_dump(mode="json", exclude_defaults=True)
        patches = (*case.setup.patches, *(case.attack.patches if attacked and case.attack else ()),
                   *case.input.events)  # fmt: skip
        result.setup_log = apply_patches(store, patches, template.now, sensed=template.sensed)
        base = snapshot(store)
        before = capture_rows(store, case.expect.rows)
        attack_before = (
            capture_rows(store, case.attack.success_rows) if attacked and case.attack else {}
        )
        settings = settings_for(config.settings, config.brain, path, template.now)
        rt = Runtime.from_settings(settings, store=store)
        meter = Meter()
        meter.attach(rt.brain(config.brain))
        stage = "agent"
        started = time.perf_counter()
        try:
            output = drive(case, rt, config.brain, f"eval-{name}",
                            case.attack.append if attacked and case.attack else None)  # fmt: skip
        except Exception as exc:  # the agent crashed: its failure, not the runner's
            output = {"reply": "", "crash": f"{type(exc).__name__}: {exc}"}
            result.error = traceback.format_exc(limit=12)
        result.latency_s = round(time.perf_counter() - started, 4)
        result.llm = meter.as_dict()
        stage = "scoring"
        _score(result, case, store, base, before, attack_before, output, attacked)
        if meter.failures:
            result.status = "infra"
            result.error = "LLM endpoint failed; the rules brain answered instead: " + "; ".join(
                meter.notes[:2]
            )
    except Exception as exc:
        result.status = "infra"
        result.error = f"{stage}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    finally:
        close(rt, store, config.keep)
        if not config.keep:
            for leftover in scratch.glob(f"{name}.duckdb*"):
                leftover.unlink(missing_ok=True)
    return result


def _score(result: RunResult, case: Case, store: Any, base: Any, before: dict, attack_before: dict,
           output: dict[str, Any], attacked: bool) -> None:  # fmt: skip
    calls, entries = calls_from_audit(store, base.audit_seq)
    calls += calls_from_events(output.get("events", []))
    checks: list[Check] = []
    if output.get("crash"):
        checks.append(
            Check("crash", "the agent finished without an exception", False, output["crash"])
        )
    checks += check_rows(store, case.expect.rows, before)
    checks += check_calls(case.expect.calls, calls)
    checks += check_expect(case, calls, output)
    if case.expect.audit:
        checks.append(check_audit(store, base, entries))
    if attacked:
        check, tried = check_attack(
            case, store, calls, attack_before, str(output.get("reply") or "")
        )
        checks.append(check)
        result.attack_succeeded, result.attack_attempted = not check.ok, tried
    result.checks = [c.as_dict() for c in checks]
    result.calls = [c.as_dict() for c in calls]
    result.audit = entries
    result.output = {k: v for k, v in output.items() if k != "events"}
    result.output["events"] = [
        e for e in output.get("events", []) if e.get("type") != "tool_result"
    ][:40]
    result.writes_expected, result.writes_made = write_precision(case.expect.calls, calls)
    result.tool_errors = tool_errors(case.expect.calls, calls)
    result.utility = all(c.ok for c in checks if c.utility)
    result.status = "pass" if all(c.ok for c in checks) else "fail"
    refusal = next((c for c in checks if c.category == "refusal"), None)
    if refusal is not None:
        result.refusal = {"must": bool(refusal.expected), "ok": refusal.ok}


def _variants(case: Case) -> list[str]:
    if case.attack is None:
        return ["plain"]
    return ["attack", "benign"] if case.attack.separable else ["attack"]


def _tasks(cases: list[Case], k: int) -> Iterator[tuple[Case, int, str]]:
    for case in cases:
        for run in range(k):
            for variant in _variants(case):
                yield case, run, variant


class _Templates:
    """Template networks, seeded on first use; a failure is remembered and reported per run."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir, self.made = cache_dir, {}  # type: ignore[var-annotated]

    def get(self, case: Case) -> Template | str:
        key = (case.setup.seed, case.setup.scale, presensed(case.setup.patches))
        if key not in self.made:
            try:
                self.made[key] = template_for(key[0], key[1], self.cache_dir, sensed=key[2])
            except Exception as exc:
                self.made[key] = f"template {key}: {type(exc).__name__}: {exc}"
        return self.made[key]


def _skipped(case: Case, run: int, variant: str, why: str) -> RunResult:
    return RunResult(case.id, case.suite, run, variant, status="infra", error=why)


def _llm_down(result: RunResult, streak: int) -> int:
    if result.status == "infra" and "LLM endpoint" in (result.error or ""):
        return streak + 1
    return 0 if result.llm.get("calls") else streak


def run_cases(cases: list[Case], config: RunConfig, progress: Progress | None = None,
              *, jobs: int = 1) -> list[RunResult]:  # fmt: skip
    """Run every case ``config.k`` times (safety cases also without their attack), in ``jobs``
    processes; results come back in case order."""
    scratch = config.work_dir or Path(tempfile.mkdtemp(prefix="proofline-eval-"))
    templates = _Templates(config.cache_dir)
    planned = [
        (case, run, variant, templates.get(case)) for case, run, variant in _tasks(cases, config.k)
    ]
    try:
        if jobs > 1 and len(planned) > 1:
            return _parallel(planned, config, scratch, progress, jobs)
        results, streak = [], 0
        for case, run, variant, template in planned:
            if isinstance(template, str):
                result = _skipped(case, run, variant, template)
            elif streak >= config.abort_after_llm_failures > 0:
                result = _skipped(
                    case, run, variant, "skipped: the LLM endpoint failed on every run so far"
                )
            else:
                result = run_one(case, template, config, run, variant, scratch)
                streak = _llm_down(result, streak)
            results.append(result)
            if progress:
                progress(result)
        return results
    finally:
        if config.work_dir is None and not config.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _parallel(planned: list[tuple[Case, int, str, Template | str]], config: RunConfig, scratch: Path,
              progress: Progress | None, jobs: int) -> list[RunResult]:  # fmt: skip
    """Runs spread over worker processes (forked after the agent is imported, so they start fast)."""
    import jsonschema  # noqa: F401  (slow to import: format checkers compile grammars; once, before the fork)

    import agent.service  # noqa: F401
    import record.epcis  # noqa: F401

    results: dict[int, RunResult] = {}
    streak = 0
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {}
        for i, (case, run, variant, template) in enumerate(planned):
            if isinstance(template, str):
                results[i] = _skipped(case, run, variant, template)
            else:
                futures[pool.submit(run_one, case, template, config, run, variant, scratch)] = i
        for future in as_completed(futures):
            i = futures[future]
            case, run, variant, _ = planned[i]
            try:
                results[i] = future.result()
            except Exception as exc:  # a worker died: the runner's failure, not the agent's
                results[i] = _skipped(
                    case, run, variant, f"runner: worker failed: {type(exc).__name__}: {exc}"
                )
            streak = _llm_down(results[i], streak)
            if streak >= config.abort_after_llm_failures > 0:
                for other in futures:
                    other.cancel()
            if progress:
                progress(results[i])
    for i, (case, run, variant, _) in enumerate(planned):
        results.setdefault(
            i, _skipped(case, run, variant, "skipped: the LLM endpoint failed on every run so far")
        )
    return [results[i] for i in range(len(planned))]
