"""What an evaluation did, at a glance: OUT/report.html beside OUT/summary.json. The tasks (failures
first, each linked to its own report or episode), each task's mean step time by phase on one
scale with the suite's total time by phase, and the pass rate by app. One page, HTML and CSS only."""

from pathlib import Path
from urllib.parse import quote

from agent.core.episode import EPISODE_FILE, read_episode, replace_file
from agent.core.errors import EpisodeError
from agent.reports import CSS, PHASE_COLOURS, PHASES, e, offline, phase_name, seconds, time_bar

DASHBOARD_FILE = "report.html"
TASK_PAGES = ("report.html", EPISODE_FILE)  # what a task's name links to, the first that exists
NOT_RUN = ("skipped", "not_run")

DASHBOARD_CSS = """
section{background:#fff;border:1px solid #ddd;border-radius:6px;margin:14px 0;padding:10px 16px}
h2{font-size:17px;margin:0 0 8px}
table.tasks{border-collapse:collapse;width:100%}
.tasks th,.tasks td{text-align:left;padding:4px 10px;border-bottom:1px solid #eee;vertical-align:top}
.tasks td.number{text-align:right;white-space:nowrap}
.tasks td.detail{overflow-wrap:anywhere}
.verdict-failed{color:#c62828;font-weight:bold}.verdict-passed{color:#1b7a32}
.verdict-skipped,.verdict-not-run{color:#777}
.chart{display:grid;grid-template-columns:max-content minmax(200px,1fr) max-content;gap:5px 12px;align-items:center}
.track{display:flex;height:12px;background:#eee;border-radius:3px;overflow:hidden}
.track.rate{background:#f3d3d3}
.note,.hint{color:#777}
"""


def write_dashboard(out: Path, summary: dict) -> Path:
    """Writes OUT/report.html from `summary` (as evaluate() returns it) and the task folders in OUT;
    raises EpisodeError when it cannot be written."""
    out = Path(out)
    planned_offline = offline({"planner": summary.get("model")})  # eval's --model local is the local planner
    results = summary["results"]
    episodes = {r["task"]: read_steps(out / r["task"]) for r in results if r["status"] not in NOT_RUN}
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
content="default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gui-agent eval: {summary["passed"]}/{summary["tasks"]} passed</title>
<style>{CSS}{DASHBOARD_CSS}</style></head>
<body>
{header(summary)}
{task_table(out, results, planned_offline)}
{phase_chart(episodes, planned_offline)}
{app_chart(results)}
</body></html>
"""
    path = out / DASHBOARD_FILE
    try:
        replace_file(path, page.encode("utf-8"))
    except OSError as error:
        raise EpisodeError(f"cannot write {path}: {error.strerror}") from None
    return path


def read_steps(folder: Path) -> list[dict] | None:
    """The task's steps; None when it has no readable episode."""
    try:
        return read_episode(folder).steps
    except EpisodeError:
        return None


def pass_rate(passed: int, counted: int) -> str:
    return f"{passed}/{counted} ({100 * passed / counted:.0f}%)" if counted else "0/0"


def header(summary: dict) -> str:
    rows = {
        "model": e(summary.get("model")),
        "workers": e(summary.get("workers")),
        "started": e(summary.get("started")),
        "wall time": seconds(summary.get("seconds") or 0),
        "passed / counted": pass_rate(summary["passed"], summary["tasks"]),
        "skipped": e(summary.get("skipped", 0)),
    }
    if summary.get("interrupted"):
        rows["interrupted"] = '<strong class="cut">interrupted</strong> — tasks not run are not counted'
    fields = "\n".join(f'<dt>{name}</dt><dd data-field="{name}">{value}</dd>' for name, value in rows.items())
    return f"""<header><h1>Evaluation: {pass_rate(summary["passed"], summary["tasks"])} passed</h1>
<dl class="summary">
{fields}
</dl></header>"""


def verdict(result: dict) -> str:
    if result["status"] in NOT_RUN:
        return result["status"].replace("_", " ")
    return "passed" if result["passed"] else "FAILED"


def failures_first(results: list[dict]) -> list[dict]:
    """Failures, then passes, then tasks skipped or not run; each group in suite order (the sort is stable)."""
    group = {"FAILED": 0, "passed": 1}
    return sorted(results, key=lambda result: group.get(verdict(result), 2))


def task_link(out: Path, task: str) -> str | None:
    return next((quote(f"{task}/{name}") for name in TASK_PAGES if (out / task / name).is_file()), None)


def task_table(out: Path, results: list[dict], planned_offline: bool) -> str:
    rows = []
    for r in failures_first(results):
        link = task_link(out, r["task"])
        name = f'<a href="{e(link)}">{e(r["task"])}</a>' if link else e(r["task"])
        message = "; ".join(filter(None, [r.get("check") if verdict(r) == "FAILED" else None, r.get("detail")]))
        tokens = "–" if planned_offline else f"{r.get('tokens') or 0:,}"
        rows.append(f'<tr data-task="{e(r["task"])}"><td>{name}</td><td>{e(r.get("app"))}</td>'
                    f'<td class="verdict-{verdict(r).lower().replace(" ", "-")}">{verdict(r)}</td>'
                    f'<td>{e(r["status"])}</td><td class="number">{e(r.get("steps"))}</td>'
                    f'<td class="number">{seconds(r.get("seconds") or 0)}</td>'
                    f'<td class="number" data-field="tokens">{tokens}</td><td class="detail">{e(message)}</td></tr>')
    head = "".join(f"<th>{column}</th>" for column in
                   ("task", "app", "verdict", "status", "steps", "wall time", "tokens", "message"))
    return f"""<section><h2>Tasks</h2>
<table class="tasks"><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></section>"""


def phase_totals(steps: list[dict]) -> dict[str, float]:
    return {phase: sum(float((step.get("timings") or {}).get(phase) or 0) for step in steps) for phase in PHASES}


def phase_chart(episodes: dict[str, list[dict] | None], planned_offline: bool) -> str:
    """One row per task: its mean step, split by phase, on a scale where the longest mean step is full width."""
    with_steps = {task: steps for task, steps in episodes.items() if steps}
    totals = {task: phase_totals(steps) for task, steps in with_steps.items()}
    means = {task: {phase: total / len(with_steps[task]) for phase, total in task_totals.items()}
             for task, task_totals in totals.items()}
    longest = max((sum(mean.values()) for mean in means.values()), default=0)
    suite = {phase: sum(task_totals[phase] for task_totals in totals.values()) for phase in PHASES}
    rows = []
    for task, steps in episodes.items():
        if steps is None:
            bar, figure = "", '<span class="note">no episode</span>'
        elif not steps or sum(means[task].values()) <= 0:
            bar, figure = "", '<span class="note">no step timed</span>'
        else:
            bar = "".join(f'<span data-phase="{phase}" style="width:{value / longest * 100:.2f}%;'
                          f'background:{PHASE_COLOURS[phase]}" title="{phase_name(phase, planned_offline)} '
                          f'{seconds(value)}"></span>' for phase, value in means[task].items() if value > 0)
            figure = f"{seconds(sum(means[task].values()))} a step, {len(steps)} step{'s' * (len(steps) > 1)}"
        rows.append(f'<span>{e(task)}</span><div class="track" data-task="{e(task)}">{bar}</div>'
                    f'<span>{figure}</span>')
    return f"""<section><h2>Step time by phase</h2>
<p>The suite's time by phase: {time_bar(suite, planned_offline)}</p>
<p class="hint">Each task's mean step, split by phase; the longest mean step is the full width.</p>
<div class="chart phases">
{chr(10).join(rows)}
</div></section>"""


def app_chart(results: list[dict]) -> str:
    """Passed of counted tasks per app; skipped tasks and tasks not run are not counted."""
    counts: dict[str, list[int]] = {}  # app: [passed, counted], apps in suite order
    for r in results:
        passed_counted = counts.setdefault(r.get("app") or "?", [0, 0])
        if r["status"] not in NOT_RUN:
            passed_counted[0] += bool(r["passed"])
            passed_counted[1] += 1
    rows = []
    for app, (passed, counted) in counts.items():
        track = "track rate" if counted else "track"  # the rest of a rate's track is the failures, pale red
        share = f'<span style="width:{100 * passed / counted:.2f}%;background:#12a150"></span>' if counted else ""
        figure = pass_rate(passed, counted) if counted else "none counted"
        rows.append(f'<span>{e(app)}</span><div class="{track}" data-app="{e(app)}">{share}</div>'
                    f'<span data-app-count="{e(app)}">{figure}</span>')
    return f"""<section><h2>Pass rate by app</h2>
<div class="chart apps">
{chr(10).join(rows)}
</div></section>"""
