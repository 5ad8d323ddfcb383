"""Reports: ``results.json`` for machines and a static ``index.html`` for people.

The page needs no network: charts are inline SVG, styles inline. For every failing case it
shows the input, the setup, the trajectory read from the audit log, each failed check with the
expected and actual values (the state diff), the reply and any traceback. Every string from a
case or the agent is escaped (injection cases carry hostile text on purpose).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from evals.cases import Case
from evals.runner import RunResult

__all__ = ["write_report"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1d2330;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d8dde6}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d8dde6;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f5f9}.ok{color:#1a7f37}.bad{color:#c0362c}.muted{color:#6b7280}
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:320px;white-space:pre-wrap;font-size:12px}
details{margin:6px 0;border:1px solid #e3e7ee;border-radius:6px;padding:6px 10px}
summary{cursor:pointer;font-weight:600}.grid{display:flex;flex-wrap:wrap;gap:24px}code{font-size:12px}
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _bars(title: str, items: list[tuple[str, float | None, str]], *, bad_high: bool = False) -> str:
    """A horizontal bar chart of ratios (0..1) as inline SVG."""
    row, label_w, bar_w = 22, 230, 300
    height = 28 + row * len(items)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 120}" height="{height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="0" y="16" font-size="13" font-weight="600">{escape(title)}</text>']  # fmt: skip
    for i, (label, value, note) in enumerate(items):
        y = 26 + i * row
        v = 0.0 if value is None else max(0.0, min(1.0, value))
        good = (v <= 0.0) if bad_high else (v >= 0.9)
        colour = (
            "#2da44e" if good else ("#d4a72c" if (v < 0.5 if bad_high else v >= 0.6) else "#cf222e")
        )
        parts += [
            f'<text x="0" y="{y + 13}" font-size="12">{escape(label[:34])}</text>',
            f'<rect x="{label_w}" y="{y + 2}" width="{bar_w}" height="14" fill="#eef1f5"/>',
            f'<rect x="{label_w}" y="{y + 2}" width="{bar_w * v:.1f}" height="14" fill="{colour}"/>',
            f'<text x="{label_w + bar_w + 6}" y="{y + 13}" font-size="12">{escape(_pct(value))} {escape(note)}</text>',
        ]
    return "".join(parts) + "</svg>"


def _metrics_table(suites: dict[str, dict[str, Any]], k: int) -> str:
    cols = [f"pass^{j}" for j in range(1, k + 1)] + [
        "write_precision",
        "refusal_accuracy",
        "utility",
        "utility_under_attack",
        "attack_success_rate",
    ]
    head = "".join(
        f"<th>{escape(c)}</th>"
        for c in ["suite", "cases", *cols, "infra", "latency p50/p95 s", "LLM calls/tokens"]
    )
    rows = []
    for name, m in suites.items():
        cells = [escape(name), str(m["cases"])] + [_pct(m.get(c)) for c in cols]
        lat, llm = m["latency_s"], m["llm"]
        cells += [
            str(m["infra_failures"]),
            f"{lat['p50']}/{lat['p95']}",
            f"{llm['calls']}/{llm['prompt_tokens'] + llm['completion_tokens']}",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _charts(suites: dict[str, dict[str, Any]]) -> str:
    out = [
        _bars(
            "pass^1 by suite",
            [(s, m.get("pass^1"), f"({m['scored_cases']} cases)") for s, m in suites.items()],
        )
    ]
    for name, m in suites.items():
        tags = [(t, v["pass_rate"], f"{v['passed']}/{v['runs']}") for t, v in m["by_tag"].items()]
        if tags:
            out.append(_bars(f"{name}: pass rate by tag", tags))
        if "attack_success_rate" in m:
            out.append(_bars(f"{name}: utility and attacks", [
                ("utility (no attack)", m.get("utility"), ""),
                ("utility under attack", m.get("utility_under_attack"), ""),
            ]) + _bars("targeted attack success rate", [("attack success", m.get("attack_success_rate"), "")],
                       bad_high=True))  # fmt: skip
    return '<div class="grid">' + "".join(f"<div>{c}</div>" for c in out) + "</div>"


def _pre(value: Any) -> str:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, indent=1, default=str, ensure_ascii=False)
    )
    return f"<pre>{escape(text)}</pre>"


def _trajectory(calls: list[dict[str, Any]]) -> str:
    if not calls:
        return '<p class="muted">no tool calls recorded</p>'
    rows = "".join(
        f"<tr><td>{c.get('seq') or ''}</td><td>{escape(c['tool'])}</td><td>{escape(c['outcome'])}</td>"
        f"<td><code>{escape(json.dumps(c['args'], default=str)[:300])}</code></td>"
        f"<td>{escape(str(c.get('code') or ''))} {escape(str(c.get('detail') or '')[:200])}</td></tr>"
        for c in calls
    )
    return f"<table><tr><th>seq</th><th>tool</th><th>outcome</th><th>args</th><th>code / detail</th></tr>{rows}</table>"


def _checks(checks: list[dict[str, Any]]) -> str:
    rows = []
    for c in checks:
        if c["ok"]:
            continue
        rows.append(f"<tr><td>{escape(c['category'])}</td><td>{escape(c['name'])}</td><td>{escape(c['detail'])}</td>"
                    f"<td>{_pre(c.get('expected'))}</td><td>{_pre(c.get('actual'))}</td></tr>")  # fmt: skip
    return ("<table><tr><th>check</th><th>what</th><th>why it failed</th><th>expected</th><th>actual</th></tr>"
            + "".join(rows) + "</table>")  # fmt: skip


def _failure(r: RunResult, case: Case | None) -> str:
    need = escape(case.need) if case else ""
    tags = escape(", ".join(case.tags)) if case else ""
    goal = f"<p><b>attack goal:</b> {escape(case.attack.goal)}</p>" if case and case.attack else ""
    body = [
        f"<p>{need}<br><span class='muted'>{tags} · run {r.run} · {escape(r.variant)} · "
        f"{r.latency_s}s</span></p>",
        goal,
        "<h3>input</h3>", _pre(r.input), "<h3>setup</h3>", _pre({"bind": r.bindings, "patches": r.setup_log}),
        "<h3>failed checks (expected vs actual)</h3>", _checks(r.checks),
        "<h3>trajectory (from the audit log)</h3>", _trajectory(r.calls),
        "<h3>reply / outcome</h3>", _pre({k: v for k, v in r.output.items() if k != "events"}),
    ]  # fmt: skip
    if r.error:
        body += ["<h3>error</h3>", _pre(r.error)]
    return f"<details><summary>{escape(r.case_id)} — {escape(_first_reason(r))}</summary>{''.join(body)}</details>"


def _first_reason(r: RunResult) -> str:
    if r.status == "infra":
        return "infrastructure: " + (r.error or "").splitlines()[0][:160]
    bad = [c for c in r.checks if not c["ok"]]
    return "; ".join(f"{c['category']}: {c['name']}" for c in bad[:2])[:200]


def _gates_html(gates: dict[str, Any] | None) -> str:
    if not gates:
        return ""
    rows = "".join(
        f"<tr><td>{escape(g['suite'])}</td><td>{escape(g['metric'])}</td><td>{escape(g['rule'])}</td>"
        f"<td>{escape(str(g['value']))}</td>"
        f"<td class='{'ok' if g['ok'] else 'bad'}'>{'pass' if g['ok'] else 'MISSED'}</td></tr>"
        for g in gates["checks"]
    )
    verdict = (
        "<span class='ok'>all gates met</span>"
        if gates["ok"]
        else "<span class='bad'>gates missed</span>"
    )
    return (f"<h2>Gates ({escape(gates['file'])}): {verdict}</h2><table><tr><th>suite</th><th>metric</th>"
            f"<th>gate</th><th>measured</th><th></th></tr>{rows}</table>")  # fmt: skip


def _html(meta: dict[str, Any], summary: dict[str, Any], results: list[RunResult], cases: list[Case],
          gates: dict[str, Any] | None) -> str:  # fmt: skip
    by_id = {c.id: c for c in cases}
    suites, k = summary["suites"], meta["k"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Proofline evals</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Proofline evals — {escape(meta['brain'])} brain, k={k}</h1>",
             f"<p class='muted'>{escape(meta['finished_at'])} · {meta['cases']} cases · {meta['runs']} runs · "
             f"{meta['duration_s']} s · overall pass rate {_pct(summary['overall']['pass_rate'])} · "
             f"infrastructure failures {summary['overall']['infra_failures']}</p>",
             _gates_html(gates), "<h2>Figures</h2>", _metrics_table(suites, k), _charts(suites)]  # fmt: skip
    for name, m in suites.items():
        errors = ", ".join(f"{escape(t)}: {n}" for t, n in m["tool_errors"].items()) or "none"
        parts.append(
            f"<h2>{escape(name)}: failures ({len(m['failing_cases'])})</h2><p>tool-call errors: {errors}</p>"
        )
        seen: set[str] = set()
        for r in results:
            if (
                r.suite == name
                and r.status == "fail"
                and r.variant != "benign"
                and r.case_id not in seen
            ):
                seen.add(r.case_id)
                parts.append(_failure(r, by_id.get(r.case_id)))
        infra = [r for r in results if r.suite == name and r.status == "infra"]
        if infra:
            parts.append(f"<h3>infrastructure failures ({len(infra)}) — not the agent's</h3>")
            parts += [_failure(r, by_id.get(r.case_id)) for r in infra[:50]]
    return "".join(parts) + "</body></html>"


def write_report(folder: Path, meta: dict[str, Any], summary: dict[str, Any], results: list[RunResult],
                 cases: list[Case], gates: dict[str, Any] | None = None) -> tuple[Path, Path]:  # fmt: skip
    """Write ``results.json`` and ``index.html`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "summary": summary, "gates": gates,
            "cases": {c.id: {"suite": c.suite, "need": c.need, "tags": list(c.tags),
                             "attack_goal": c.attack.goal if c.attack else None} for c in cases},
            "runs": [r.as_dict() for r in results]}  # fmt: skip
    json_path, html_path = folder / "results.json", folder / "index.html"
    json_path.write_text(
        json.dumps(data, indent=1, default=str, ensure_ascii=False), encoding="utf-8"
    )
    html_path.write_text(_html(meta, summary, results, cases, gates), encoding="utf-8")
    return json_path, html_path
