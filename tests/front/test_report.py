import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
import pytest
from PIL import Image

from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import EpisodeError
from agent.reports import step_markers, write_animation, write_report
from tests.support import EPISODES
from tests.support.scenarios import gui_agent

FORM = EPISODES / "form"
FORM_STEPS = 12
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def form_run(tmp_path) -> Path:
    return Path(shutil.copytree(FORM, tmp_path / "form"))


def field(page: str, name: str) -> str:
    match = re.search(rf'<dd data-field="{name}">(.*?)</dd>', page, re.S)
    assert match, f"the summary has no {name}"
    return match.group(1)


def png_bytes(width: int, height: int) -> bytes:
    image = np.full((height, width, 3), 200, np.uint8)
    cv2.rectangle(image, (width // 4, height // 4), (width // 2, height // 2), (40, 90, 200), -1)
    return cv2.imencode(".png", image)[1].tobytes()


def test_report_of_the_form_episode(form_run):
    report = write_report(form_run)
    page = report.read_text(encoding="utf-8")

    assert report == form_run / "report.html"
    assert len(re.findall(r'<section [^>]*data-step="\d+"', page)) == FORM_STEPS
    links = [link for link in re.findall(r'(?:src|href)="([^"#]+)"', page)]
    for link in links:
        assert not re.match(r"[a-z]+:", link), f"{link} is not a relative path"
        assert (report.parent / unquote(link)).is_file(), f"{link} does not exist"
    # every step and the end: the whole screen, linked to the full size; every action but DONE and the
    # keyboard submit (no point, and nothing changed on the screen): before and after close up
    assert len(links) == 2 * (FORM_STEPS + 1) + 2 * (FORM_STEPS - 2)
    assert page.count("no point to show, and nothing on the screen changed") == 1
    assert "This page shows images from its folder" in page
    thumb = cv2.imread(str(form_run / "report-thumbs" / "step-001.jpg"))
    assert thumb.shape[1] == 320
    assert field(page, "task") == "Fill in the form for Zoë Ångström and submit it"
    assert ">done<" in field(page, "status")
    assert field(page, "steps") == str(FORM_STEPS)
    assert field(page, "wall time") == "1.9 s"
    assert field(page, "tokens") == "12,000 in / 600 out"
    assert field(page, "cost").startswith("$0.0083 ")  # 12000 * 0.6 + 600 * 1.8 per million


def test_markers_account_for_monitor_offset_scale_and_snap(tmp_path):
    """Screen (600, 300) on a monitor at (100, 50) captured at 2x is image (1000, 500): thumbnail (200, 100)."""
    episode = EpisodeWriter(tmp_path)
    episode.header(task="t", planner="glm", settings={"model": "glm-4.5v"},
                   screen={"left": 100, "top": 50, "width": 1000, "height": 500, "scale": 2.0,
                           "image_width": 2000, "image_height": 1000})
    episode.screenshot(1, png_bytes(2000, 1000))
    episode.step({"index": 1, "screenshot": "step-001.png", "outcome": "ok", "call": "left_click(...)",
                  "screen": {"point": [600, 300]}, "snap": {"model_point": [249, 499], "point": [499, 499]}})
    episode.end("done")
    page = write_report(tmp_path, thumbnail_width=400).read_text(encoding="utf-8")

    whole = page[page.index('<figure class="shot">'):]
    rings = {kind: (float(x), float(y)) for kind, x, y in
             re.findall(r'<g class="(\w+)"[^>]*><title>[^<]*</title><circle cx="([\d.]+)" cy="([\d.]+)"', whole)}
    assert rings == {"action": (200.0, 100.0), "model": (99.8, 99.9), "snapped": (199.8, 99.9)}


def test_report_of_a_run_cut_short(form_run):
    lines = (form_run / "episode.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["kind"] == "end"
    last_step = lines[-2]
    (form_run / "episode.jsonl").write_text("\n".join(lines[:-2] + [last_step[:len(last_step) // 2]]),
                                            encoding="utf-8")
    page = write_report(form_run).read_text(encoding="utf-8")

    assert "cut short" in field(page, "status")
    assert "1 torn line skipped" in field(page, "status")
    assert field(page, "wall time").startswith("unknown")
    assert len(re.findall(r'<section [^>]*data-step="\d+"', page)) == FORM_STEPS - 1


def test_a_format_error_shows_the_raw_reply_escaped(tmp_path):
    episode = EpisodeWriter(tmp_path)
    episode.header(task="Say <b>hi</b>", planner="glm", settings={"model": "glm-4.5v"},
                   screen={"left": 0, "top": 0, "width": 320, "height": 240, "image_width": 320, "image_height": 240})
    episode.step({"index": 1, "screenshot": episode.screenshot(1, png_bytes(320, 240)), "outcome": "format_error",
                  "error": "no action call found in the reply", "raw": "I will <script>alert(1)</script> now",
                  "usage": {"prompt_tokens": 10, "completion_tokens": 5}})
    episode.step({"index": 2, "screenshot": episode.screenshot(2, png_bytes(320, 240)), "outcome": "endpoint_error",
                  "error": "the endpoint timed out"})
    episode.end("format_errors", "1 unusable reply")
    page = write_report(tmp_path).read_text(encoding="utf-8")

    assert "<script>alert(1)</script>" not in page
    assert "<b>hi</b>" not in page
    card = page[page.index('data-step="1"'):]
    assert "I will &lt;script&gt;alert(1)&lt;/script&gt; now" in card
    assert "no action call found in the reply" in card
    assert "endpoint error: the endpoint timed out" in page[page.index('data-step="2"'):]
    assert field(page, "steps") == "2 (1 format error, 1 endpoint error)"


def test_an_outcome_is_escaped_in_the_summary_too(tmp_path):
    episode = EpisodeWriter(tmp_path)
    episode.header(task="t", planner="glm", settings={"model": "glm-4.5v"})
    episode.step({"index": 1, "screenshot": episode.screenshot(1, png_bytes(320, 240)), "outcome": "ok"})
    episode.end("error")
    lines = tmp_path / "episode.jsonl"  # an outcome no writer writes, as a hand-made episode may hold
    lines.write_text(lines.read_text().replace('"outcome": "ok"', '"outcome": "<img src=x onerror=alert(1)>"'))
    page = write_report(tmp_path).read_text(encoding="utf-8")

    assert "<img src=x" not in page
    assert "1 &lt;img src=x onerror=alert(1)&gt;" in field(page, "steps")


def test_the_report_replaces_links_instead_of_writing_through_them(form_run, tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not the report's")
    (tmp_path / "thumbs elsewhere").mkdir()
    for name in ("report.html", "replay.gif"):
        (form_run / name).symlink_to(elsewhere)
    (form_run / "report-thumbs").symlink_to(tmp_path / "thumbs elsewhere")
    write_report(form_run)
    write_animation(form_run)

    assert elsewhere.read_text() == "not the report's" and not list((tmp_path / "thumbs elsewhere").iterdir())
    assert not any((form_run / name).is_symlink() for name in ("report.html", "replay.gif", "report-thumbs"))
    assert len(list((form_run / "report-thumbs").glob("*.jpg"))) == FORM_STEPS + 1  # and the end's


def test_missing_and_unreadable_screenshots_become_notes(form_run):
    (form_run / "step-002.png").unlink()
    (form_run / "step-003.png").write_bytes(b"not a png")
    page = write_report(form_run).read_text(encoding="utf-8")

    assert len(re.findall(r'<section [^>]*data-step="\d+"', page)) == FORM_STEPS
    assert "step-002.png is missing or unreadable" in page
    assert "step-003.png is missing or unreadable" in page
    assert Image.open(write_animation(form_run)).n_frames == FORM_STEPS - 2


def test_a_missing_episode_is_an_episode_error(tmp_path):
    with pytest.raises(EpisodeError):
        write_report(tmp_path)


def test_prices_file_and_unknown_models(form_run, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"GLM-4.5V": {"input": 100, "output": 1000}}))
    page = write_report(form_run, prices=prices).read_text(encoding="utf-8")
    assert field(page, "cost").startswith("$1.80 ")  # 12000 * 100 + 600 * 1000 per million
    os.environ["GUI_AGENT_PRICES"] = str(prices)  # what `run` uses when it writes the report
    try:
        assert field(write_report(form_run).read_text(encoding="utf-8"), "cost").startswith("$1.80 ")
    finally:
        del os.environ["GUI_AGENT_PRICES"]

    episode = form_run / "episode.jsonl"
    episode.write_text(episode.read_text(encoding="utf-8").replace('"glm-4.5v"', '"mystery-model"'), encoding="utf-8")
    page = write_report(form_run).read_text(encoding="utf-8")
    assert field(page, "tokens") == "12,000 in / 600 out"
    assert "$" not in field(page, "cost")


def test_the_animation_has_one_frame_per_screenshot(form_run):
    gif = Image.open(write_animation(form_run))
    assert gif.format == "GIF"
    assert gif.n_frames == FORM_STEPS
    assert gif.width <= 960


def run_chromium(tmp_path: Path, page: Path, *flags: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (or run .ci/run)")
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    # Chromium logs page console output as `...:INFO:CONSOLE:1] "Uncaught ..."` (older: `CONSOLE(1)`)
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]


def test_the_report_renders_in_a_headless_browser(form_run, tmp_path):
    report = write_report(form_run)
    shot = tmp_path / "report.png"
    browser = run_chromium(tmp_path, report, f"--screenshot={shot}", "--window-size=1280,2000")
    assert browser.returncode == 0, browser.stderr[-2000:]
    # the page has no script, so any console message (an error, a CSP violation) is a fault
    assert console_messages(browser.stderr) == []
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2000, 1280)
    assert image.std() > 20
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50

    dom = run_chromium(tmp_path, report, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(re.findall(r'<section [^>]*data-step="\d+"', dom.stdout)) == FORM_STEPS
    assert "<script" not in dom.stdout


def test_the_console_check_catches_a_script_error(tmp_path):
    """Guards the check above: if Chromium changed how it logs the console, it would pass vacuously."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><p>x</p><script>undefinedFunction()</script>")
    messages = console_messages(run_chromium(tmp_path, page, "--dump-dom").stderr)
    assert any("Uncaught ReferenceError" in line for line in messages)


def test_a_run_that_stops_at_a_missing_target_reports_that_step_as_the_console_counted_it(x_session, tmp_path):
    """The issue's case: the screenshot of the step where the target was not found was on disk but
    not in the report, which counted one step less than the console."""
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    out = tmp_path / "run"
    result = gui_agent("run", "--model", "local", 'tick "Subscribe", then click "Launch rockets"', "--display",
                       x_session.display, "--out", str(out), env=x_session.env)
    assert result.returncode == 1, result.stdout + result.stderr
    console_steps = re.search(r"^\s*steps\s+(\d+)\s*$", result.stdout, re.M)
    assert console_steps, result.stdout
    page = (out / "report.html").read_text(encoding="utf-8")
    shots = sorted(p.name for p in out.glob("step-*.png"))
    # the scroll that looked for the target on a form that does not scroll changed nothing
    assert field(page, "steps") == f"{len(shots)} (1 error; 1 with no visible change)"
    assert int(console_steps.group(1)) == len(shots) == 3
    last = page[page.index(f'data-step="{len(shots)}"'):]
    assert "Launch rockets" in last and f'href="{shots[-1]}"' in last


CLOSE_UP = re.compile(r'<figure class="closeup" data-when="(\w+)" data-source="([^"]+)" '
                      r'data-region="(\d+),(\d+),(\d+),(\d+)"><span class="frame"><img src="([^"]+)"')


def test_each_action_is_shown_close_up_before_and_after_where_it_acted(form_run):
    page = write_report(form_run).read_text(encoding="utf-8")
    episode = read_episode(form_run)
    shown = 0
    for position, step in enumerate(episode.steps):
        start = page.index(f'id="step-{step["index"]}"')
        card = page[start:page.index("</section>", start)]
        figures = CLOSE_UP.findall(card)
        if not figures:
            continue
        shown += 1
        before = cv2.imread(str(form_run / step["screenshot"]))
        following = episode.steps[position + 1]["screenshot"]
        pairs = [(when, source) for when, source, *_ in figures]
        assert pairs == [("before", step["screenshot"]), ("after", following)]
        crops = {}
        for when, source, x0, y0, x1, y1, src in figures:
            x0, y0, x1, y1 = map(int, (x0, y0, x1, y1))
            crop = cv2.imread(str(form_run / unquote(src)))
            whole = cv2.imread(str(form_run / source))
            assert np.array_equal(crop, whole[y0:y1, x0:x1]), f"step {step['index']} {when}"
            assert x1 - x0 >= 360 and y1 - y0 >= 200
            crops[when] = (x0, y0, x1, y1), crop
        region = crops["before"][0]
        for marker in step_markers(step, episode.header["screen"], before.shape[1], before.shape[0]):
            assert region[0] <= marker.x < region[2] and region[1] <= marker.y < region[3], f"step {step['index']}"
        # what changed near the action is in the close-up: whatever changed outside it is far from it
        changed = np.abs(before.astype(int) - cv2.imread(str(form_run / following)).astype(int)).max(axis=2) > 24
        changed[region[1]:region[3], region[0]:region[2]] = False
        if changed.any():
            ys, xs = np.nonzero(changed)
            markers = step_markers(step, episode.header["screen"], before.shape[1], before.shape[0])
            points = [(m.x, m.y) for m in markers]
            assert points and min(max(abs(x - px) - 360, abs(y - py) - 200) for x, y in zip(xs, ys)
                                  for px, py in points) >= 0, f"step {step['index']}"
    assert shown == FORM_STEPS - 2


def test_a_close_up_next_to_the_screen_edge_is_moved_onto_it_whole(tmp_path):
    episode = EpisodeWriter(tmp_path)
    episode.header(task="t", planner="glm", settings={"model": "glm-4.5v"},
                   screen={"left": 0, "top": 0, "width": 800, "height": 600, "image_width": 800, "image_height": 600})
    for index in (1, 2):
        episode.screenshot(index, png_bytes(800, 600))
    episode.step({"index": 1, "screenshot": "step-001.png", "outcome": "ok", "call": "left_click(...)",
                  "action": {"type": "click", "point": [994, 5], "button": "left"}, "screen": {"point": [795, 3]}})
    episode.step({"index": 2, "screenshot": "step-002.png", "outcome": "ok", "call": "DONE()",
                  "action": {"type": "done"}})
    episode.end("done", screenshot="step-002.png")
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert [figure[2:6] for figure in CLOSE_UP.findall(page)] == [("440", "0", "800", "200")] * 2
    assert "after — nothing changed here" in page


def test_what_went_wrong_first_is_named_and_linked(tmp_path):
    episode = EpisodeWriter(tmp_path / "run")
    episode.header(task="t", planner="glm", settings={"model": "glm-4.5v"})
    for index, outcome, error in ((1, "ok", None), (2, "action_error", "unknown key 'hyper'"),
                                  (3, "not_repeated", "did it 3 times")):
        episode.step({"index": index, "screenshot": episode.screenshot(index, png_bytes(320, 240)), "outcome": outcome,
                      "error": error, "call": "key(keys='hyper')"})
    episode.end("step_limit", "30 steps")
    page = write_report(tmp_path / "run").read_text(encoding="utf-8")
    wrong = field(page, "went wrong")
    assert wrong.startswith('<a href="#step-2">step 2</a>: action error') and "unknown key &#x27;hyper&#x27;" in wrong
    assert 'id="step-2"' in page

    clean = EpisodeWriter(tmp_path / "clean")
    clean.header(task="t", planner="glm", settings={"model": "glm-4.5v"})
    clean.step({"index": 1, "screenshot": clean.screenshot(1, png_bytes(320, 240)), "outcome": "ok", "call": "x()"})
    clean.image("final.png", png_bytes(320, 240))
    clean.end("step_limit", "1 step", screenshot="final.png")
    page = write_report(tmp_path / "clean").read_text(encoding="utf-8")
    assert field(page, "went wrong") == '<a href="#end">the end</a>: step_limit — 1 step'
    end = page[page.index('id="end"'):]
    assert 'href="final.png"' in end and "no screenshot of its end" not in end


def test_the_embedded_planners_report_speaks_of_planning_and_shows_no_tokens(form_run):
    episode = form_run / "episode.jsonl"
    episode.write_text(episode.read_text(encoding="utf-8").replace('"planner": "glm"', '"planner": "local"'),
                       encoding="utf-8")
    page = write_report(form_run).read_text(encoding="utf-8")
    assert 'data-field="tokens"' not in page and 'data-field="cost"' not in page and "tokens:" not in page
    assert "planning" in field(page, "time") and "in the model" not in field(page, "time")
    assert "timings: capture 4 ms · encode 11 ms · planning 54 ms · act 54 ms · settle 38 ms" in page
    bar = re.findall(r'<span style="flex:([\d.]+);background:[^"]+" title="(\w+)', field(page, "time"))
    assert [name for _, name in bar] == ["capture", "encode", "planning", "act", "settle"]
    assert abs(sum(float(share) for share, _ in bar) - 1) < 0.001


def test_a_single_file_report_holds_every_image_and_renders_alone(form_run, tmp_path):
    report = write_report(form_run, single_file=True)
    alone = tmp_path / "shared" / "report.html"
    alone.parent.mkdir()
    shutil.copy(report, alone)
    page = alone.read_text(encoding="utf-8")
    sources = re.findall(r'src="([^"]+)"', page)
    assert sources
    assert all(source.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for source in sources)
    assert all(link.startswith("#") for link in re.findall(r'href="([^"]+)"', page))
    assert len(sources) == 2 * (FORM_STEPS + 1) + 2 * (FORM_STEPS - 2)  # thumbnails and full size, close-ups
    assert not (form_run / "report-thumbs").exists() and "Every image is inside this page." in page
    browser = run_chromium(tmp_path, alone, "--dump-dom")
    assert browser.returncode == 0 and console_messages(browser.stderr) == []


def test_the_animation_rings_the_point_without_covering_it(form_run):
    episode = read_episode(form_run)
    step = episode.steps[0]
    marker = step_markers(step, episode.header["screen"], 1366, 768)[0]
    gif = Image.open(write_animation(form_run))
    scale = gif.width / 1366
    frame = np.asarray(gif.convert("RGB")).astype(int)
    red = np.all(np.abs(frame - (0xe0, 0x24, 0x5e)) < 40, axis=2)
    x, y = round(marker.x * scale), round(marker.y * scale)
    assert not red[y - 4:y + 5, x - 4:x + 5].any()  # the target under the point shows
    assert red[y - 12:y + 13, x - 12:x + 13].sum() > 30  # the ring around it


def several_actions_run(folder: Path) -> Path:
    """Step 1 clicks a field, types and clicks far away; step 2 clicks four times and nothing changes;
    step 3 clicks twice, the second refused; step 4 is DONE. Screenshots differ where step 1 typed."""
    episode = EpisodeWriter(folder)
    episode.header(task="t", planner="glm", settings={"model": "glm-4.5v"},
                   screen={"left": 0, "top": 0, "width": 800, "height": 600, "image_width": 800, "image_height": 600})
    typed = np.full((600, 800, 3), 200, np.uint8)
    cv2.putText(typed, "hello", (60, 110), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 0, 0), 2)
    typed_png = cv2.imencode(".png", typed)[1].tobytes()
    shots = [png_bytes(800, 600), typed_png] + [typed_png] * 2
    for index, png in enumerate(shots, 1):
        episode.screenshot(index, png)

    def click(x, y, changed):
        return {"outcome": "ok", "error": None, "settled": True, "changed": changed,
                "action": {"type": "click", "point": [x, y], "button": "left"},
                "call": f"left_click(start_box='[{x},{y}]')", "screen": {"point": [x, y]}}

    first_type = {"outcome": "ok", "error": None, "settled": True, "changed": True,
                  "action": {"type": "type", "content": "hello"}, "call": "type(content='hello')", "screen": {}}
    episode.step({"index": 1, "screenshot": "step-001.png", **click(70, 100, True),
                  "then": [first_type, click(700, 520, False)]})
    episode.step({"index": 2, "screenshot": "step-002.png", **click(100, 300, False),
                  "then": [click(200, 300, False), click(300, 300, False), click(400, 300, False)]})
    refused = click(600, 300, None) | {"outcome": "refused", "error": "needs confirmation: it was refused"}
    episode.step({"index": 3, "screenshot": "step-003.png", **click(500, 300, True), "then": [refused]})
    episode.step({"index": 4, "screenshot": "step-004.png", "outcome": "ok", "call": "DONE()",
                  "action": {"type": "done"}})
    episode.end("done")
    return folder


def card_of(page: str, index: int) -> str:
    start = page.index(f'id="step-{index}"')
    return page[start:page.index("</section>", start)]


def numbered_rings(html: str) -> list[tuple[float, float, int]]:
    return [(float(x), float(y), int(number)) for x, y, number in re.findall(
        r'<g class="action"[^>]*><title>[^<]*</title><circle cx="([\d.]+)" cy="([\d.]+)"'
        r'.*?<text [^>]*>(\d+)</text></g>', html)]


def test_a_step_of_several_actions_shows_every_one(tmp_path):
    run = several_actions_run(tmp_path / "run")
    steps = read_episode(run).steps
    assert steps[0]["call"] == "left_click(start_box='[70,100]')"
    assert steps[0]["calls"] == ["left_click(start_box='[70,100]')", "type(content='hello')",
                                 "left_click(start_box='[700,520]')"]
    assert len(steps[1]["calls"]) == 4 and steps[3]["calls"] == ["DONE()"]

    page = write_report(run).read_text(encoding="utf-8")
    card = card_of(page, 1)
    assert re.findall(r'<li data-call="(\d)"><code class="call">([^<]*)</code>', card) == [
        ("1", "left_click(start_box=&#x27;[70,100]&#x27;)"), ("2", "type(content=&#x27;hello&#x27;)"),
        ("3", "left_click(start_box=&#x27;[700,520]&#x27;)")]
    whole = card[card.index('<figure class="shot">'):]
    assert numbered_rings(whole) == [(28.0, 40.0, 1), (280.0, 208.0, 3)]  # thumbnail: 320 of 800 pixels
    regions = {tuple(map(int, figure[2:6])) for figure in CLOSE_UP.findall(card)}
    assert len(regions) == 1
    x0, y0, x1, y1 = regions.pop()
    assert x0 <= 70 and y0 <= 100 and x1 > 700 and y1 > 520  # both clicks, and the text typed between them
    assert [number for *_, number in numbered_rings(card[:card.index('<figure class="shot">')])] == [1, 3, 1, 3]

    four = card_of(page, 2)
    assert [number for *_, number in numbered_rings(four[four.index('<figure class="shot">'):])] == [1, 2, 3, 4]
    assert len(re.findall(r"<li data-call=", four)) == 4
    assert "<polyline" not in four  # four clicks are four points, not a path
    assert 'data-field="changed">no visible change</span></h2>' in four
    assert field(page, "steps") == "4 (1 refused; 1 with no visible change)"


def test_only_the_actions_that_changed_nothing_are_marked_so(tmp_path):
    page = write_report(several_actions_run(tmp_path / "run")).read_text(encoding="utf-8")
    first = card_of(page, 1)
    marked = re.findall(r'<li data-call="(\d)">(.*?)</li>', first)
    assert [number for number, item in marked if "no visible change" in item] == ["3"]
    assert 'data-field="changed"' not in first
    assert "no visible change" not in card_of(page, 3) and "no visible change" not in card_of(page, 4)
    four = card_of(page, 2)
    assert four.count("no visible change") == 1  # said once for the step, not for each of its clicks


def test_a_refused_second_action_is_what_went_wrong(tmp_path):
    page = write_report(several_actions_run(tmp_path / "run")).read_text(encoding="utf-8")
    assert field(page, "went wrong") == '<a href="#step-3">step 3</a>: refused — needs confirmation: it was refused'
    third = card_of(page, 3)
    assert '<span class="badge">refused</span></h2>' in third
    assert re.search(r'<li data-call="2">[^<]*<code class="call">[^<]*</code> <span class="badge">refused</span>'
                     r'<br><span class="error">needs confirmation: it was refused</span>', third)


def test_the_animation_numbers_the_points_of_a_step_of_several(tmp_path):
    run = several_actions_run(tmp_path / "run")
    frames = Image.open(write_animation(run))
    frames.seek(1)  # step 2: four clicks along y=300, nothing drawn between them
    frame = np.asarray(frames.convert("RGB")).astype(int)
    red = np.all(np.abs(frame - (0xe0, 0x24, 0x5e)) < 40, axis=2)
    assert not red[300, 130:170].any()  # no line joins two clicks
    assert all(red[270:300, x + 10:x + 25].sum() > 5 for x in (100, 200, 300, 400))  # each ring's number


def test_an_evaluated_tasks_verdict_is_read_only_from_a_plain_check_file(form_run, tmp_path):
    (form_run / "check.json").write_text(json.dumps({"passed": False, "message": "<b>wrong</b> title"}))
    page = write_report(form_run).read_text(encoding="utf-8")
    assert field(page, "checker") == '<strong class="check-failed">failed</strong>: &lt;b&gt;wrong&lt;/b&gt; title'
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"passed": True, "message": "not this run's"}))
    for hostile in ("link", "[1, 2]", '{"passed": "yes", "message": "m"}', "{"):
        (form_run / "check.json").unlink()
        if hostile == "link":
            (form_run / "check.json").symlink_to(outside)
        else:
            (form_run / "check.json").write_text(hostile)
        assert 'data-field="checker"' not in write_report(form_run).read_text(encoding="utf-8"), hostile


def test_a_dry_run_says_so_in_the_summary(form_run):
    assert 'data-field="dry run"' not in write_report(form_run).read_text(encoding="utf-8")
    episode = form_run / "episode.jsonl"
    episode.write_text(episode.read_text(encoding="utf-8").replace('"dry_run": false', '"dry_run": true', 1),
                       encoding="utf-8")
    page = write_report(form_run).read_text(encoding="utf-8")
    assert field(page, "dry run") == "nothing was performed on the screen; the steps show what would have been done"


def test_direction_controls_are_shown_as_escapes_on_the_page(tmp_path):
    turned = "invoice\u202egpj.exe\u2066\x1b[2J"  # invented
    episode = EpisodeWriter(tmp_path)
    episode.header(task=turned, planner="glm", settings={"model": "glm-4.5v"})
    episode.step({"index": 1, "screenshot": episode.screenshot(1, png_bytes(320, 240)), "outcome": "format_error",
                  "error": turned, "raw": turned})
    episode.end("error", turned)
    page = write_report(tmp_path).read_text(encoding="utf-8")

    assert not set("\u202e\u2066\x1b") & set(page)
    assert page.count("invoice\\u202egpj.exe\\u2066\\x1b[2J") >= 5
