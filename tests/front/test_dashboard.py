"""The evaluation's dashboard (agent.dashboard): OUT/report.html with the tasks failures first and
linked to what exists, each task's mean step time by phase on one scale, the pass rate by app;
written by evaluate() after summary.json, whose failure to write leaves the summary standing; and
rendered by Chromium with a clean console."""

import dataclasses
import json
import re
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
import pytest

from agent.core.episode import EpisodeWriter
from agent.core.errors import EpisodeError
from agent.dashboard import write_dashboard
from agent.evaluate import ModelOptions, evaluate
from agent.reports import PHASE_COLOURS, seconds
from tests.front.test_eval import BY_NAME, programs  # noqa: F401 (programs is a fixture)
from tests.front.test_report import console_messages, field, run_chromium

HOSTILE = "<img src=x onerror=alert(1)>"
# the steps' timings of each task that has an episode; means per step: form_ok 0.2 s (the longest),
# "form wrong #1?" 0.1 s, xterm_echo 0.08 s, form_name 0.06 s
TIMINGS = {
    "form_ok": [{"capture": 0.01, "model": 0.1, "act": 0.04, "settle": 0.05}] * 2,
    "form wrong #1?": [{"capture": 0.02, "model": 0.03, "act": 0.02, "settle": 0.03}],
    "xterm_echo": [{"capture": 0.01, "model": 0.02, "act": 0.01, "settle": 0.01},
                   {"capture": 0.01, "model": 0.04, "act": 0.03, "settle": 0.03}],
    "form_name": [{"capture": 0.005, "encode": 0.005, "model": 0.05}],
}
WITH_REPORT = {"form_ok", "xterm_echo"}
FAILURES_FIRST = ["form wrong #1?", "xterm_crash", "form_ok", "xterm_echo", "form_name", "xterm_sum", "form_late"]


def result(task: str, app: str, passed: bool | None, status: str, **fields) -> dict:
    return {"task": task, "app": app, "passed": passed, "status": status, "steps": len(TIMINGS.get(task, [])),
            "seconds": 1.5, "tokens": 1234 if passed is not None else 0} | fields


@pytest.fixture
def fake_eval(tmp_path) -> tuple[Path, dict]:
    """An evaluation folder as evaluate() leaves it, in suite order: passes, failures (one that never
    started), a skipped task and one not run."""
    out = tmp_path / "eval"
    results = [
        result("form_ok", "form", True, "done"),
        result("form wrong #1?", "form", False, "done", detail=HOSTILE),
        result("xterm_sum", "xterm", None, "skipped", detail="model-only"),
        result("xterm_echo", "xterm", True, "done"),
        result("xterm_crash", "xterm", False, "app_error", detail="the app did not start"),
        result("form_name", "form", True, "done"),
        result("form_late", "form", None, "not_run", detail="the evaluation was interrupted"),
    ]
    for task, steps in TIMINGS.items():
        episode = EpisodeWriter(out / task)
        episode.header(task=task, planner="local", settings={"model": "local"})
        for index, timings in enumerate(steps, 1):
            episode.step({"index": index, "outcome": "ok", "timings": timings})
        episode.end("done")
        if task in WITH_REPORT:
            (out / task / "report.html").write_text("<!doctype html><title>run</title>")
    (out / "xterm_crash").mkdir()
    (out / "xterm_crash" / "agent.log").write_text("the app did not start\n")
    summary = {"tasks": 5, "passed": 3, "skipped": 1, "model": "local", "workers": 2,
               "started": "2026-12-01T10:00:00.000+00:00", "seconds": 12.3, "interrupted": True, "results": results}
    return out, summary


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-task="([^"]+)"', page)


def row(page: str, task: str) -> str:
    return re.search(rf'<tr data-task="{re.escape(task)}">(.*?)</tr>', page, re.S).group(1)


def assert_links_resolve(page: str, folder: Path) -> list[str]:
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    for link in links:
        assert not re.match(r"[a-z]+:", link) and not link.startswith("/"), f"{link} is not a relative path"
        assert (folder / unquote(link)).is_file(), f"{link} does not exist"
    return links


def test_failures_come_first_and_each_task_links_to_what_exists(fake_eval):
    out, summary = fake_eval
    page = write_dashboard(out, summary).read_text(encoding="utf-8")

    assert rows(page) == FAILURES_FIRST
    assert [re.search(r'class="verdict-[\w-]+">([^<]+)<', row(page, task)).group(1) for task in FAILURES_FIRST] == \
        ["FAILED", "FAILED", "passed", "passed", "passed", "skipped", "not run"]
    links = assert_links_resolve(page, out)
    assert links == ["form%20wrong%20%231%3F/episode.jsonl", "form_ok/report.html", "xterm_echo/report.html",
                     "form_name/episode.jsonl"]
    assert "<a " not in row(page, "xterm_crash") and "<a " not in row(page, "xterm_sum")
    assert ">the app did not start<" in row(page, "xterm_crash")
    assert ">1.5 s<" in row(page, "form_ok")
    assert '<dd data-field="passed / counted">3/5 (60%)</dd>' in page
    assert '<dd data-field="skipped">1</dd>' in page and '<dd data-field="interrupted">' in page
    del summary["interrupted"]
    assert 'data-field="interrupted"' not in write_dashboard(out, summary).read_text(encoding="utf-8")


def test_tokens_are_a_dash_for_the_embedded_planner_only(fake_eval):
    out, summary = fake_eval
    page = write_dashboard(out, summary).read_text(encoding="utf-8")
    assert re.findall(r'data-field="tokens">([^<]*)<', page) == ["–"] * len(FAILURES_FIRST)

    page = write_dashboard(out, summary | {"model": "glm-4.5v"}).read_text(encoding="utf-8")
    assert 'data-field="tokens">1,234<' in row(page, "form_ok")
    assert 'data-field="tokens">0<' in row(page, "xterm_sum")


def test_the_phase_bars_are_each_tasks_mean_step_on_one_scale(fake_eval):
    out, summary = fake_eval
    page = write_dashboard(out, summary).read_text(encoding="utf-8")

    longest = 0.2
    for task, steps in TIMINGS.items():
        bar = re.search(rf'<div class="track" data-task="{re.escape(task)}">(.*?)</div>', page).group(1)
        segments = re.findall(r'data-phase="(\w+)" style="width:([\d.]+)%;background:(#\w+)"', bar)
        means = {phase: sum(step.get(phase, 0) for step in steps) / len(steps) for phase in steps[0]}
        assert [phase for phase, _, _ in segments] == [p for p in ("capture", "encode", "model", "act", "settle")
                                                        if p in means], task
        for phase, width, colour in segments:
            assert float(width) == pytest.approx(means[phase] / longest * 100, abs=0.01), (task, phase)
            assert colour == PHASE_COLOURS[phase]
        assert f'title="planning {seconds(means["model"])}"' in bar and 'title="model' not in bar
    assert re.search(r'data-task="xterm_crash"></div><span><span class="note">no episode', page)
    assert 'data-task="xterm_sum"></div>' not in page  # never ran: no row in the plot

    suite_model_time = sum(step.get("model", 0) for steps in TIMINGS.values() for step in steps)
    assert f"planning {seconds(suite_model_time)}" in page  # the suite's bar, with the local planner's name
    glm = write_dashboard(out, summary | {"model": "glm-4.5v"}).read_text(encoding="utf-8")
    assert f"model {seconds(suite_model_time)}" in glm and "planning" not in glm


def test_the_pass_rate_by_app_counts_neither_skipped_tasks_nor_tasks_not_run(fake_eval):
    out, summary = fake_eval
    page = write_dashboard(out, summary).read_text(encoding="utf-8")

    counts = dict(re.findall(r'<span data-app-count="(\w+)">([^<]+)</span>', page))
    assert counts == {"form": "2/3 (67%)", "xterm": "1/2 (50%)"}
    widths = dict(re.findall(r'data-app="(\w+)"><span style="width:([\d.]+)%', page))
    assert widths == {"form": "66.67", "xterm": "50.00"}


def test_a_hostile_detail_is_escaped(fake_eval):
    out, summary = fake_eval
    page = write_dashboard(out, summary).read_text(encoding="utf-8")
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in row(page, "form wrong #1?")
    assert "<img" not in page and "<script" not in page


def test_a_dashboard_that_cannot_be_written_leaves_the_summary_standing(tmp_path):
    out = tmp_path / "eval"
    (out / "report.html").mkdir(parents=True)  # what stands in its place cannot be replaced by a file
    with pytest.raises(EpisodeError, match=r"^cannot write .*report\.html"):
        write_dashboard(out, {"tasks": 0, "passed": 0, "skipped": 0, "model": "local", "results": []})

    summary = evaluate([], out)
    assert summary["dashboard_error"].startswith(f"cannot write {out / 'report.html'}")
    assert json.loads((out / "summary.json").read_text()) == summary


def test_an_evaluation_writes_its_dashboard(programs, tmp_path):  # noqa: F811
    judged_wrong = dataclasses.replace(BY_NAME["xterm_title"], name="xterm_title_judged_wrong", check=lambda end: False)
    out = tmp_path / "eval"
    summary = evaluate([BY_NAME["form_name"], BY_NAME["xterm_title"], judged_wrong], out, ModelOptions("local"),
                       workers=2)
    assert [(r["task"], r["passed"]) for r in summary["results"]] == \
        [("form_name", True), ("xterm_title", True), ("xterm_title_judged_wrong", False)], summary
    assert "dashboard_error" not in summary

    page = (out / "report.html").read_text(encoding="utf-8")
    assert rows(page) == ["xterm_title_judged_wrong", "form_name", "xterm_title"]
    assert assert_links_resolve(page, out) == [f"{task}/report.html" for task in rows(page)]
    assert ">the end state is not the one asked for<" in row(page, "xterm_title_judged_wrong")
    # each task's own report says first what its checker found, beside the run's own status
    wrong = (out / "xterm_title_judged_wrong" / "report.html").read_text(encoding="utf-8")
    assert re.findall(r'<dd data-field="(\w+)"', wrong)[0] == "checker"
    assert field(wrong, "checker") == ('<strong class="check-failed">failed</strong>: '
                                       "the end state is not the one asked for")
    assert ">done<" in field(wrong, "status")
    assert field(wrong, "went wrong") == '<a href="#end">the end state</a>: the end state is not the one asked for'
    right = (out / "xterm_title" / "report.html").read_text(encoding="utf-8")
    assert field(right, "checker") == '<strong class="check-passed">passed</strong>: the end state is the one asked for'
    assert 'data-field="went wrong"' not in right
    assert re.findall(r'data-field="tokens">([^<]*)<', page) == ["–"] * 3
    for task in rows(page):
        bar = re.search(rf'<div class="track" data-task="{task}">(.*?)</div>', page).group(1)
        assert 'data-phase="model"' in bar, task
    assert "planning" in page


def test_the_dashboard_renders_in_a_headless_browser_with_a_clean_console(fake_eval, tmp_path):
    out, summary = fake_eval
    dashboard = write_dashboard(out, summary)
    shot = tmp_path / "dashboard.png"
    browser = run_chromium(tmp_path, dashboard, f"--screenshot={shot}", "--window-size=1280,1200")
    assert browser.returncode == 0, browser.stderr[-2000:]
    assert console_messages(browser.stderr) == []  # no script, so any message is a fault, e.g. a CSP violation
    image = cv2.imread(str(shot))
    model_blue = np.array([0xe0, 0x6f, 0x1d])  # PHASE_COLOURS["model"] in BGR: the bars are drawn
    assert (np.abs(image.astype(int) - model_blue).max(axis=2) < 8).sum() > 500

    dom = run_chromium(tmp_path, dashboard, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert rows(dom.stdout) == FAILURES_FIRST and "<script" not in dom.stdout

    # the same check sees what the page's policy refuses (a missing file it does not: the first test checks the links)
    broken = out / "broken.html"
    broken.write_text(dashboard.read_text(encoding="utf-8").replace(
        "</body>", '<img src="https://example.invalid/x.png"></body>'))
    assert any("Content Security Policy" in line for line in
               console_messages(run_chromium(tmp_path, broken, "--dump-dom").stderr))


def test_direction_controls_in_a_task_are_shown_as_escapes(tmp_path):
    turned = "form\u202edne\u2069"  # invented
    summary = {"tasks": 1, "passed": 0, "skipped": 0, "model": "local",
               "results": [result(turned, "form", False, "done", detail=turned)]}
    page = write_dashboard(tmp_path, summary).read_text(encoding="utf-8")
    assert not set("\u202e\u2069") & set(page)
    assert page.count("form\\u202edne\\u2069") >= 3
