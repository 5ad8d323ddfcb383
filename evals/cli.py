"""``proofline eval``: run the offline suites, report, and (with ``--gate``) enforce the gates.

Exit codes: 0 done (gates met, when asked); 1 a gate was missed (the failing cases are listed);
2 the command cannot run as asked (unknown suite or case, no LLM endpoint for ``--brain llm``).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["eval_command", "register"]

console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _select(suites: list[str] | None, case_ids: list[str] | None) -> list:
    from evals.cases import SUITES, load_suites

    unknown = [s for s in suites or [] if s not in SUITES]
    if unknown:
        _fail(f"unknown suite {', '.join(unknown)}; suites are {', '.join(SUITES)}")
    cases = load_suites(suites or None)
    if case_ids:
        known = {c.id for c in cases}
        missing = [c for c in case_ids if c not in known]
        if missing:
            _fail(f"no case {', '.join(missing)} in {', '.join(suites or SUITES)}; "
                  "list ids in evals/suites/<suite>/cases.yaml")  # fmt: skip
        cases = [c for c in cases if c.id in case_ids]
    return cases


def _settings(brain: str):  # type: ignore[no-untyped-def]
    from agent.settings import Settings

    settings = Settings()
    if brain == "llm" and not settings.llm_base_url:
        _fail("--brain llm needs an OpenAI-compatible endpoint and none is configured: set "
              "PROOFLINE_LLM_BASE_URL (and PROOFLINE_LLM_MODEL, PROOFLINE_LLM_API_KEY), "
              "or run the rules brain with --brain rules")  # fmt: skip
    return settings


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _show(summary: dict, k: int) -> None:
    """One line per suite (plain text: CI logs are narrow)."""
    labels = [(f"pass^{j}", f"pass^{j}") for j in range(1, k + 1)] + [
        ("write_precision", "precision"), ("refusal_accuracy", "refusal acc."),
        ("utility", "utility"), ("utility_under_attack", "utility under attack"),
        ("attack_success_rate", "ASR"), ("attack_attempt_rate", "attack attempts"),
    ]  # fmt: skip
    for name, m in summary["suites"].items():
        figures = ", ".join(f"{label} {_pct(m[key])}" for key, label in labels if key in m)
        lat, llm = m["latency_s"], m["llm"]
        console.print(
            f"[bold]{name}[/]: {m['cases']} cases — {figures}; infra {m['infra_failures']}; "
            f"latency p50 {lat['p50']} s; LLM {llm['calls']} calls, "
            f"{llm['prompt_tokens'] + llm['completion_tokens']} tokens",
            highlight=False,
            soft_wrap=True,
        )


SuiteOpt = Annotated[
    list[str] | None, typer.Option("--suite", help="triage, reschedule, chat, safety (repeatable)")
]
BrainOpt = Annotated[str, typer.Option("--brain", help="rules or llm")]
KOpt = Annotated[int, typer.Option("--k", min=1, max=20, help="runs per case (pass^1..pass^k)")]
GateOpt = Annotated[
    bool, typer.Option("--gate", help="exit 1 when a gate of evals/gates/<brain>.yaml is missed")
]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="write index.html and results.json here")
]
CaseOpt = Annotated[
    list[str] | None, typer.Option("--case", help="run only this case id (repeatable)")
]
CacheOpt = Annotated[
    Path, typer.Option("--cache-dir", help="where seeded template networks are kept")
]
KeepOpt = Annotated[bool, typer.Option("--keep", help="keep each run's database copy (debugging)")]
JobsOpt = Annotated[int, typer.Option("--jobs", min=1, max=16, help="worker processes")]
DEFAULT_JOBS = min(2, os.cpu_count() or 1)


def eval_command(
    suite: SuiteOpt = None,
    brain: BrainOpt = "rules",
    k: KOpt = 1,
    gate: GateOpt = False,
    report: ReportOpt = None,
    case: CaseOpt = None,
    cache_dir: CacheOpt = Path(".eval-cache"),
    keep: KeepOpt = False,
    jobs: JobsOpt = DEFAULT_JOBS,
) -> None:
    """Run the eval suites on fresh synthetic records and score the agent."""
    from evals.gating import check_gates, gate_file
    from evals.metrics import summarize
    from evals.report import write_report
    from evals.runner import RunConfig

    if brain not in ("rules", "llm"):
        _fail(f"--brain {brain}: use rules or llm")
    settings = _settings(brain)
    cases = _select(suite, case)
    work_dir = Path(tempfile.mkdtemp(prefix="proofline-eval-")) if keep else None
    config = RunConfig(
        brain=brain, k=k, cache_dir=cache_dir, keep=keep, settings=settings, work_dir=work_dir
    )
    started = time.perf_counter()
    results = _run(cases, config, jobs)
    summary = summarize(results, cases, k)
    _show(summary, k)
    gates = check_gates(summary, gate_file(brain)) if gate else None
    meta = {"brain": brain, "k": k, "cases": len(cases), "runs": len(results),
            "duration_s": round(time.perf_counter() - started, 1),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), "jobs": jobs,
            "model": settings.llm_model if brain == "llm" else None,
            "endpoint": settings.llm_base_url if brain == "llm" else None}  # fmt: skip
    console.print(f"{meta['runs']} runs in {meta['duration_s']} s; "
                  f"infrastructure failures: {summary['overall']['infra_failures']}")  # fmt: skip
    if work_dir is not None:
        console.print(f"run databases kept in {work_dir}")
    if report is not None:
        _, html = write_report(report, meta, summary, results, cases, gates)
        console.print(f"report: {html}")
    if gates is not None:
        _enforce(gates)


def _run(cases: list, config: Any, jobs: int) -> list:
    """Run the cases with a progress bar on stderr."""
    from evals.runner import run_cases

    total = sum(config.k * (2 if c.attack and c.attack.separable else 1) for c in cases)
    with Progress(TextColumn("[bold]eval[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:  # fmt: skip
        task = bar.add_task(config.brain, total=total)
        return run_cases(cases, config, jobs=jobs,
                         progress=lambda r: bar.update(task, advance=1, description=r.case_id))  # fmt: skip


def _enforce(gates: dict) -> None:
    if gates["ok"]:
        console.print(f"[green]all gates of {gates['file']} met[/]")
        return
    err.print(f"[bold red]gates missed[/] ({gates['file']}):")
    for c in gates["checks"]:
        if not c["ok"]:
            err.print(f"  {c['suite']}: {c['metric']} = {c['value']} (gate {c['rule']})")
    for suite, ids in gates["failing_cases"].items():
        err.print(f"  failing in {suite} ({len(ids)}): {', '.join(ids)}", soft_wrap=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``eval`` to the ``proofline`` app."""
    app.command("eval")(eval_command)
