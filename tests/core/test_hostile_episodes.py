"""Episodes written by someone else: wrong types, deep nesting, blank and torn lines, screenshots
named outside the folder or linked out of it, PNG headers claiming huge sizes, outputs linked to
files elsewhere. `report`, `replay --dry-run` and `resume` each end in success or one clear line,
never a traceback, never reading a file outside the folder nor writing one."""

import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.core.episode import EPISODE_FILE, EpisodeWriter, read_episode
from agent.core.errors import AgentError, EpisodeError
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.loop import Agent, Limits
from agent.core.png import encode_png
from agent.core.screen import Frame
from agent.demos.reground import replay_demonstration
from agent.planners.glm import GLMConfig, GLMPlanner
from agent.planners.glm_tools import ToolsConfig, ToolsPlanner
from agent.planners.replay import ReplayPlanner
from agent.reports import write_animation, write_report
from tests.support import ROOT
from tests.support.endpoint import ScriptedEndpoint
from tests.support.fakes import FakeScreen
from tests.support.scenarios import gui_agent

WIDTH, HEIGHT = 64, 48
MAGENTA = (255, 0, 255)  # the outside image: a thumbnail or frame of this colour was read from outside
SCREEN = {"display": ":0", "monitor": 1, "left": 0, "top": 0, "width": WIDTH, "height": HEIGHT, "scale": 1.0,
          "image_width": WIDTH, "image_height": HEIGHT}
HOSTILE_OUTCOME = '<img src=x onerror="alert(1)">'


def png_of(colour: tuple[int, int, int], width: int = WIDTH, height: int = HEIGHT) -> bytes:
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:, :, :3] = colour[::-1]  # BGR
    return encode_png(pixels)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few bytes whose header claims width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def base_records(planner: str) -> list[dict]:
    header = {"kind": "header", "format": 1, "started": "2026-11-30T09:00:00.000+00:00", "task": "Press OK",
              "planner": planner, "agent_version": "0.1.0",
              "settings": {"model": "glm-4.5v", "base_url": "http://127.0.0.1:9/v1", "snap": False}, "screen": SCREEN}
    steps = [{"kind": "step", "index": n, "screenshot": f"step-{n:03d}.png", "outcome": "ok", "error": None,
              "settled": True, "explanation": "Press it.", "memory": "[]",
              "action": {"type": "click", "point": [500, 500], "button": "left", "element_info": "OK"},
              "call": "left_click(start_box='[500,500]', element_info='OK')", "screen": {"point": [32, 24]},
              "raw": "Press it. left_click(start_box='[500,500]', element_info='OK')\nMemory:\n[]", "reasoning": "",
              "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
              "request": {"images": 1, "image_tokens": 4, "bytes": 100}, "finish_reason": "stop",
              "timings": {"model": 0.1, "act": 0.01}} for n in (1, 2, 3)]
    end = {"kind": "end", "status": "step_limit", "message": "no DONE() within 3 steps", "steps": 3, "tokens": 45,
           "seconds": 1.5, "ended": "2026-11-30T09:00:02.000+00:00"}
    return [header, *steps, end]


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
                           | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=3),
                           max_leaves=6)
FIELDS = ["kind", "format", "task", "planner", "settings", "screen", "index", "screenshot", "raw", "reasoning",
          "explanation", "memory", "action", "call", "outcome", "error", "snap", "usage", "request", "timings",
          "then", "target", "status", "message", "steps", "seconds", "after_step", "model", "left", "width",
          "point", "prompt_tokens", "tool_choice", "skills", "thinking", "changed"]
OUTSIDE_NAMES = ["../outside/secret.png", "OUTSIDE_ABSOLUTE", "sub/../../outside/secret.png", "..", "", "LINK"]
OUTPUTS = ["report.html", "replay.gif", "report-thumbs", "report-thumbs/step-001.jpg", "step-002.png"]

mutations = st.one_of(
    st.tuples(st.just("field"), st.integers(0, 4), st.sampled_from(FIELDS), json_values),
    st.tuples(st.just("nested field"), st.integers(0, 4), st.sampled_from(FIELDS), st.sampled_from([3, 40, 900])),
    st.tuples(st.just("nested line"), st.integers(0, 5), st.sampled_from([40, 900, 100_000])),
    st.tuples(st.just("blank"), st.integers(0, 5), st.sampled_from(["", "   ", "\t"])),
    st.tuples(st.just("screenshot"), st.integers(1, 3), st.sampled_from(OUTSIDE_NAMES)),
    st.tuples(st.just("huge png"), st.integers(1, 3), st.sampled_from([(30000, 30000), (32768, 1), (9000, 9000)])),
    st.tuples(st.just("link output"), st.sampled_from(OUTPUTS)),
    st.tuples(st.just("torn"), st.integers(1, 30)),
    st.tuples(st.just("extra"), st.integers(0, 4), st.text(min_size=1, max_size=6), json_values),
    st.tuples(st.just("insert"), st.integers(1, 4), st.sampled_from(["act", "resume", "future"])),
    st.tuples(st.just("outcome"), st.integers(1, 3)),
)


def build(folder: Path, outside: Path, planner: str, changes: list) -> None:
    """The base episode in `folder`, then the hostile changes."""
    folder.mkdir()
    records = base_records(planner)
    for n in (1, 2, 3):
        (folder / f"step-{n:03d}.png").write_bytes(png_of((255, 255, 255)))
    extra_lines, torn = {}, None
    for change in changes:
        kind, *rest = change
        if kind == "field":
            line, name, value = rest
            records[line][name] = value
        elif kind == "nested field":
            line, name, depth = rest
            records[line][name] = json.loads("[" * depth + "]" * depth)
        elif kind == "nested line":
            extra_lines[rest[0]] = "[" * rest[1] + "]" * rest[1]
        elif kind == "blank":
            extra_lines[rest[0]] = rest[1]
        elif kind == "screenshot":
            step, name = rest
            if name == "OUTSIDE_ABSOLUTE":
                name = str(outside / "secret.png")
            elif name == "LINK":
                name = f"step-{step:03d}.png"
                (folder / name).unlink()
                (folder / name).symlink_to(outside / "secret.png")
            records[step]["screenshot"] = name
        elif kind == "huge png":
            step, (width, height) = rest
            (folder / f"step-{step:03d}.png").write_bytes(png_claiming(width, height))
        elif kind == "link output":
            target = folder / rest[0]
            target.parent.mkdir(exist_ok=True)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            target.symlink_to(outside if rest[0] == "report-thumbs" else outside / "target.txt")
        elif kind == "torn":
            torn = rest[0]
        elif kind == "extra":
            line, name, value = rest
            if name not in records[line]:
                records[line][name] = value
        elif kind == "insert":
            step, what = rest
            extra_lines[step] = json.dumps({"act": {"kind": "act", "step": step + 1, "call": "wait()",
                                                    "action": {"type": "wait"}},
                                            "resume": {"kind": "resume", "after_step": step, "agent_version": "0.1.0"},
                                            "future": {"kind": "annotation", "note": [1, 2]}}[what])
        elif kind == "outcome":
            records[rest[0]]["outcome"] = HOSTILE_OUTCOME
    lines = [json.dumps(record) for record in records]
    for position, text in sorted(extra_lines.items(), reverse=True):
        lines.insert(position, text)
    data = "\n".join(lines) + "\n"
    if torn:
        data = data[: len(data) - 1 - min(torn, len(lines[-1]) - 1)]
    (folder / EPISODE_FILE).write_text(data, encoding="utf-8")


class OpenWatch:
    """Every file this process opens through Python (open, os.open, Path.read_bytes, Pillow) whose
    real path is under `outside`. Links are resolved as the open resolves them: not the last one
    with O_NOFOLLOW."""

    def __init__(self):
        self.outside: Path | None = None
        self.opened: list[str] = []
        sys.addaudithook(self.hook)

    def hook(self, event, args):
        if event != "open" or self.outside is None or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.fsdecode(args[0])
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        if flags & os.O_NOFOLLOW:
            real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        else:
            real = os.path.realpath(path)
        if Path(real).is_relative_to(self.outside):
            self.opened.append(path)


WATCH = OpenWatch()


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.is_symlink(), p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(folder.rglob("*"))}


def magenta(image_bytes: bytes) -> bool:
    image = cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_COLOR)
    return image is not None and abs(image[..., 1].mean() - 0) < 40 and image[..., 2].mean() > 200


def one_line_or_success(action) -> str | None:
    """Runs `action`; returns None or the AgentError's message, which must be one line. Anything
    else raised (a traceback for the user) fails the test."""
    try:
        action()
    except AgentError as error:
        assert "\n" not in str(error), str(error)
        return str(error)
    return None


def replay_dry_run(folder: Path, out: Path):
    episode = read_episode(folder)
    agent = Agent(episode.header.get("task", ""), ReplayPlanner(episode, check_all=False), RecordingComputer(
        Monitor(0, 0, WIDTH, HEIGHT)), FakeScreen(WIDTH, HEIGHT), EpisodeWriter(out), limits=Limits(steps=5))
    status, message = agent.run()
    assert "\n" not in message


def resume(folder: Path, base_url: str = "http://127.0.0.1:9/v1"):
    """As `gui-agent resume` does it, against an endpoint that does not answer."""
    episode = read_episode(folder)
    fields = {k: v for k, v in episode.header["settings"].items() if k in GLMConfig.model_fields and k != "api_key"}
    config = GLMConfig(**fields | {"base_url": base_url, "max_retries": 0, "timeout": 0.5}, api_key="sk-test")
    planner = (ToolsPlanner(ToolsConfig(**config.model_dump(), api_key="sk-test"))
               if episode.header.get("planner") == "tools" else GLMPlanner(config))
    planner.restore(episode)
    done = episode.steps[-1]["index"] if episode.steps else 0
    agent = Agent("t", planner, RecordingComputer(Monitor(0, 0, WIDTH, HEIGHT)), FakeScreen(WIDTH, HEIGHT),
                  EpisodeWriter(folder, resume=True), limits=Limits(steps=done + 1),
                  resume_from={"steps": done, "tokens": 0})
    status, message = agent.run()
    assert "\n" not in message


tried = {"examples": 0, "refused": 0}


@pytest.fixture(scope="module", autouse=True)
def count_tried():
    yield
    print(f"\nhostile inputs tried: {tried['examples']} episodes x 4 commands "
          f"({tried['refused']} commands refused with one line)")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(planner=st.sampled_from(["glm", "tools"]), changes=st.lists(mutations, min_size=1, max_size=3))
def test_hostile_episodes_end_in_one_line_and_stay_in_their_folder(tmp_path_factory, planner, changes):
    root = tmp_path_factory.mktemp("hostile")
    outside, folder = root / "outside", root / "episode"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_of(MAGENTA))
    (outside / "target.txt").write_text("not yours to write")
    build(folder, outside, planner, changes)
    before = snapshot(outside)
    WATCH.outside, WATCH.opened = outside.resolve(), []
    try:
        errors = [one_line_or_success(lambda: write_report(folder)),
                  one_line_or_success(lambda: write_animation(folder)),
                  one_line_or_success(lambda: replay_dry_run(folder, root / "replayed")),
                  one_line_or_success(lambda: resume(folder))]
    finally:
        WATCH.outside = None
    tried["examples"] += 1
    tried["refused"] += sum(error is not None for error in errors)

    assert WATCH.opened == [], f"opened outside the episode folder: {WATCH.opened}"
    assert snapshot(outside) == before, "wrote outside the episode folder"
    for error in errors:
        if error and "episode.jsonl line" in error:
            assert str(folder / EPISODE_FILE) in error and ("field '" in error or "corrupt" in error
                                                            or "nested" in error), error
    written = [p for p in folder.rglob("*") if p.suffix in (".jpg", ".gif") and not p.is_symlink()]
    assert not any(magenta(p.read_bytes()) for p in written if p.suffix == ".jpg"), "an outside image was shown"
    if errors[0] is None:
        page = (folder / "report.html").read_text(encoding="utf-8")
        assert HOSTILE_OUTCOME not in page
        assert not (folder / "report.html").is_symlink()
        for change in changes:
            kind, *rest = change
            untouched = not [other for other in changes if other is not change and other[1] == rest[0]]
            if kind == "huge png" and rest[1][0] * rest[1][1] > 64_000_000 and untouched:
                assert f"claims {rest[1][0]}x{rest[1][1]} pixels" in page


def test_a_blank_line_is_skipped_and_a_wrong_type_is_named(tmp_path):
    build(tmp_path / "blank", tmp_path, "glm", [("blank", 2, "")])
    assert len(read_episode(tmp_path / "blank").steps) == 3
    build(tmp_path / "typed", tmp_path, "glm", [("field", 2, "index", "2")])
    with pytest.raises(EpisodeError) as refused:
        read_episode(tmp_path / "typed")
    assert str(refused.value) == (f"{tmp_path / 'typed' / EPISODE_FILE} line 3: field 'index' must be an integer; "
                                  "the episode cannot be used as it is")


def test_whether_an_action_changed_the_screen_is_true_or_false(tmp_path):
    build(tmp_path / "changed", tmp_path, "glm", [("field", 2, "changed", "no")])
    with pytest.raises(EpisodeError, match=r"line 3 \(step 2\): field 'changed' must be true or false"):
        read_episode(tmp_path / "changed")


def test_a_deeply_nested_line_is_one_line_of_error(tmp_path):
    build(tmp_path / "deep", tmp_path, "glm", [("nested line", 2, 100_000)])
    with pytest.raises(EpisodeError, match="line 3 is nested too deep to read"):
        read_episode(tmp_path / "deep")


NUMBERS = {"NaN": "is NaN", "Infinity": "is Infinity", "-Infinity": "is -Infinity", "1e400": "is 1e400",
           "1" + "0" * 400: "is an integer of 401 digits", "1e30": "is out of range", "-" + "9" * 30: "is out of range"}
PLACES = {(2, "screen", "point", 0): "screen.point.0", (2, "timings", "model"): "timings.model",
          (2, "usage", "prompt_tokens"): "usage.prompt_tokens", (0, "screen", "scale"): "screen.scale",
          (4, "seconds"): "seconds", (2, "then", 0, "screen", "end", 1): "then.0.screen.end.1"}


def with_number(folder: Path, place: tuple, number: str) -> None:
    """The base episode in `folder`, the JSON text `number` where `place` (line, keys) says."""
    records = json.loads(json.dumps(base_records("glm")))
    records[2]["then"] = [{"outcome": "ok", "call": "wait()", "action": {"type": "wait"}, "screen": {"end": [1, 2]}}]
    line, *keys = place
    parent = records[line]
    for key in keys[:-1]:
        parent = parent[key]
    parent[keys[-1]] = "NUMBER"
    build(folder, folder.parent, "glm", [])
    lines = [json.dumps(record) for record in records]
    lines[line] = lines[line].replace('"NUMBER"', number)
    (folder / EPISODE_FILE).write_text("\n".join(lines) + "\n")


def test_numbers_not_finite_or_absurd_are_refused_in_one_line_naming_field_and_step(tmp_path):
    for n, (number, said) in enumerate(NUMBERS.items()):
        for m, (place, name) in enumerate(PLACES.items()):
            folder = tmp_path / f"{n}-{m}"
            with_number(folder, place, number)
            step = " (step 2)" if place[0] == 2 else ""
            with pytest.raises(EpisodeError) as refused:
                read_episode(folder)
            assert str(refused.value).startswith(f"{folder / EPISODE_FILE} line {place[0] + 1}{step}: field '{name}' "
                                                 f"{said}"), str(refused.value)
            assert "\n" not in str(refused.value)
    folder = tmp_path / "0-0"  # NaN in a step's point: every reader says so in one line
    for read in (lambda: write_report(folder), lambda: write_animation(folder),
                 lambda: replay_dry_run(folder, tmp_path / "replayed"), lambda: resume(folder),
                 lambda: replay_demonstration(folder, ":404", tmp_path / "regrounded")):
        assert "field 'screen.point.0' is NaN" in one_line_or_success(read)


def test_a_snap_outside_the_model_space_is_refused_and_one_without_text_replays(tmp_path):
    build(tmp_path / "far", tmp_path, "glm", [("field", 2, "snap", {"model_point": [500, 500], "point": [1e6, 5]})])
    with pytest.raises(EpisodeError, match=r"line 3 \(step 2\): field 'snap.point.0' must be at most 999"):
        read_episode(tmp_path / "far")
    build(tmp_path / "bare", tmp_path, "glm", [("field", 1, "snap", {"model_point": [500, 500], "point": [400, 300]})])
    episode = read_episode(tmp_path / "bare")
    decision = ReplayPlanner(episode, check_all=False).decide("t", Frame.from_png(episode.screenshot(episode.steps[0])))
    assert decision.action.point == (400, 300) and decision.snap == {"model_point": [500, 500], "point": [400, 300]}


def test_the_command_line_reports_a_nan_in_one_line(tmp_path):
    with_number(tmp_path / "nan", (2, "screen", "point", 0), "NaN")
    for command in (["report", "--gif"], ["replay", "--dry-run", "--display", ":404"],
                    ["replay", "--reground", "--display", ":404"]):
        result = gui_agent(*command, str(tmp_path / "nan"), env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
        assert result.stdout.count("error") == 1 and "field 'screen.point.0' is NaN" in result.stdout, result.stdout


def test_act_and_resume_lines_are_read_and_checked(tmp_path):
    build(tmp_path / "ok", tmp_path, "glm", [("insert", 2, "act"), ("insert", 4, "resume")])
    assert [s["index"] for s in read_episode(tmp_path / "ok").steps] == [1, 2, 3]
    lines = (tmp_path / "ok" / EPISODE_FILE).read_text().splitlines()
    lines[2] = json.dumps({"kind": "act", "step": "2", "call": "wait()", "action": {"type": "wait"}})
    (tmp_path / "ok" / EPISODE_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(EpisodeError, match="line 3: field 'step' must be an integer"):
        read_episode(tmp_path / "ok")


def test_the_command_line_reports_hostile_episodes_in_one_line(tmp_path):
    """The real `gui-agent report` and `replay --dry-run` (which reads the episode before it needs a display)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_of(MAGENTA))
    (outside / "target.txt").write_text("not yours to write")
    cases = {"types": [("field", 1, "timings", {"model": "slow"})], "nested": [("nested line", 3, 100_000)],
             "huge": [("huge png", 1, (30000, 30000)), ("link output", "report.html")],
             "leading out": [("screenshot", 1, "../outside/secret.png"), ("screenshot", 2, "LINK")]}
    for name, changes in cases.items():
        build(tmp_path / name, outside, "glm", changes)
        for command in (["report", "--gif"], ["replay", "--dry-run", "--display", ":404"]):
            result = gui_agent(*command, str(tmp_path / name), env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
            assert "Traceback" not in result.stderr, result.stderr
            assert result.returncode in (0, 1)
            if result.returncode:
                error_lines = [line for line in result.stdout.splitlines() if line.startswith("error")]
                assert len(error_lines) == 1, result.stdout
    assert (outside / "target.txt").read_text() == "not yours to write"
    assert "claims 30000x30000 pixels" in (tmp_path / "huge" / "report.html").read_text()
    assert not (tmp_path / "huge" / "report.html").is_symlink()


def test_a_screen_wider_than_16384_is_recorded_and_its_report_replay_and_resume_take_it(tmp_path):
    """A 17000x800 screen: its run once wrote screenshots its own readers refused as too large."""
    run = tmp_path / "run"
    with ScriptedEndpoint(["left_click(start_box='[500,500]')", "DONE()"]) as endpoint:
        agent = Agent("t", GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test")),
                      RecordingComputer(Monitor(0, 0, 17000, 800)), FakeScreen(17000, 800), EpisodeWriter(run))
        assert agent.run()[0] == "done"
    page = write_report(run).read_text(encoding="utf-8")
    assert "claims" not in page and "unreadable" not in page and page.count('class="closeup"') == 2
    write_animation(run)
    episode = read_episode(run)
    replay = Agent("t", ReplayPlanner(episode, check_all=False), RecordingComputer(Monitor(0, 0, 17000, 800)),
                   FakeScreen(17000, 800), EpisodeWriter(tmp_path / "replayed"))
    assert replay.run()[0] == "done"
    planner = GLMPlanner(GLMConfig(base_url="http://127.0.0.1:9/v1", api_key="sk-test"))
    planner.restore(episode)
    assert all(turn.image_png for turn in planner.turns)


def test_a_screenshot_no_reader_would_take_is_not_written(tmp_path):
    writer = EpisodeWriter(tmp_path / "run")
    with pytest.raises(EpisodeError) as refused:
        writer.screenshot(1, png_claiming(40000, 800))
    assert str(refused.value) == (f"{tmp_path / 'run' / 'step-001.png'} claims 40000x800 pixels, more than a "
                                  "screenshot can have (at most 32767 a side, 64 Mpx); it was not written")
    assert not (tmp_path / "run" / "step-001.png").exists()


def test_a_reply_with_a_lone_surrogate_is_written_and_read_back(tmp_path):
    """JSON's "\\ud800" decodes to half a UTF-16 pair, which UTF-8 cannot hold: the line is written with "?"."""
    replies = ["It is done \ud800. DONE()"]  # (the history of a run sent back to the endpoint is another matter)
    with ScriptedEndpoint(replies) as endpoint:
        agent = Agent("t", GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test")),
                      RecordingComputer(Monitor(0, 0, WIDTH, HEIGHT)), FakeScreen(WIDTH, HEIGHT),
                      EpisodeWriter(tmp_path / "run"))
        assert agent.run()[0] == "done"
    step = read_episode(tmp_path / "run").steps[0]
    assert step["raw"] == "It is done ?. DONE()"
    write_report(tmp_path / "run")


# Writers: one per folder, and nothing torn.

def test_a_second_writer_of_a_folder_is_refused_until_the_first_ends(tmp_path):
    first = EpisodeWriter(tmp_path / "run")
    first.header(task="t", planner="glm")
    with pytest.raises(EpisodeError) as refused:
        EpisodeWriter(tmp_path / "run", resume=True)
    assert str(refused.value) == (f"{tmp_path / 'run'} is being written by another gui-agent run; wait for it to "
                                  "end (or stop it), or choose another --out folder")
    first.end("done")
    EpisodeWriter(tmp_path / "run", resume=True).end("error", "resumed")
    assert read_episode(tmp_path / "run").end["message"] == "resumed"


def test_another_process_writing_the_folder_keeps_it_locked(tmp_path):
    code = ("import sys, time; from agent.core.episode import EpisodeWriter; w = EpisodeWriter(sys.argv[1]); "
            "w.header(task='t', planner='glm'); print('locked', flush=True); time.sleep(30)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(EpisodeError, match="is being written by another gui-agent run"):
            EpisodeWriter(tmp_path / "run", resume=True)
    finally:
        holder.kill()
        holder.wait()
    EpisodeWriter(tmp_path / "run", resume=True).end("error")  # the lock went with the process


def test_two_resumes_of_one_episode_one_is_refused_and_no_step_is_written_twice(tmp_path):
    build(tmp_path / "run", tmp_path, "glm", [])
    replies = ["left_click(start_box='[100,100]')", "left_click(start_box='[200,200]')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        first_done = threading.Event()
        started = threading.Event()

        def first():
            episode = read_episode(tmp_path / "run")
            planner = GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test"))
            planner.restore(episode)
            agent = Agent("t", planner, RecordingComputer(Monitor(0, 0, WIDTH, HEIGHT)), SlowScreen(started),
                          EpisodeWriter(tmp_path / "run", resume=True), limits=Limits(steps=10),
                          resume_from={"steps": 3, "tokens": 0})
            agent.run()
            first_done.set()

        stale = read_episode(tmp_path / "run")  # the second resume read the episode at the same time
        thread = threading.Thread(target=first)
        thread.start()
        assert started.wait(10)
        with pytest.raises(EpisodeError, match="is being written by another gui-agent run"):
            EpisodeWriter(tmp_path / "run", resume=True)
        thread.join(30)
        assert first_done.is_set()
        late = Agent("t", GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test")),
                     RecordingComputer(Monitor(0, 0, WIDTH, HEIGHT)), FakeScreen(WIDTH, HEIGHT),
                     EpisodeWriter(tmp_path / "run", resume=True), resume_from={"steps": stale.steps[-1]["index"],
                                                                                 "tokens": 0})
        status, message = late.run()
    assert status == "error" and "changed since it was read" in message
    lines = [json.loads(line) for line in (tmp_path / "run" / EPISODE_FILE).read_text().splitlines()]
    indexes = [line["index"] for line in lines if line["kind"] == "step"]
    assert indexes == [1, 2, 3, 4, 5, 6]
    assert [line["kind"] for line in lines].count("end") == 2  # the first run's, the resumed run's
    assert [line["kind"] for line in lines].count("resume") == 1


class SlowScreen(FakeScreen):
    """A screen whose captures take a while, so a run is still writing when another starts."""

    def __init__(self, started: threading.Event):
        super().__init__(WIDTH, HEIGHT)
        self.started = started

    def capture(self):
        self.started.set()
        time.sleep(0.2)
        return super().capture()


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


def test_a_full_disk_ends_the_run_in_one_line_and_keeps_what_was_written(small_disk):
    replies = [f"left_click(start_box='[{n},{n}]')" for n in range(1, 200)]
    with ScriptedEndpoint(replies) as endpoint:
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test"))
        agent = Agent("t", planner, RecordingComputer(Monitor(0, 0, 640, 400)), FakeScreen(640, 400),
                      EpisodeWriter(small_disk / "run"), limits=Limits(steps=200))
        try:
            status, message = agent.run()
        except EpisodeError as error:  # not even the end line fitted
            status, message = "error", str(error)
    assert status == "error"
    assert "No space left on device; free some space on its disk" in message and "\n" not in message
    episode = read_episode(small_disk / "run")
    assert episode.damaged_lines == 0 and len(episode.steps) >= 3
    assert all((small_disk / "run" / step["screenshot"]).stat().st_size > 0 for step in episode.steps)
    assert not [p for p in (small_disk / "run").iterdir() if p.name.startswith(".")]  # no half-written file
    assert (small_disk / "run" / EPISODE_FILE).read_bytes().endswith(b"\n")
    shutil.rmtree(small_disk / "run")


def test_an_episode_never_chooses_python_code_to_load(tmp_path):
    """An episode from elsewhere names a folder of Python skills and says its run loaded them: `resume`
    loads them only when --python-skills is given to it as well."""
    (tmp_path / "evil").mkdir()
    marker = tmp_path / "loaded"
    (tmp_path / "evil" / "steal.py").write_text(f"open({str(marker)!r}, 'w').write('its code ran')\n")
    writer = EpisodeWriter(tmp_path / "run")
    writer.header(task="t", planner="glm", settings={"skills": ["steal"], "skills_dir": str(tmp_path / "evil"),
                                                     "python_skills": True})
    writer.end("error", "cut")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUI_AGENT_", "ZAI_"))}
    resume = ["resume", str(tmp_path / "run"), "--base-url", "http://127.0.0.1:9/v1", "--display", ":987"]
    result = gui_agent(*resume, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr and not marker.exists()
    assert "they are not loaded again without --python-skills" in " ".join(result.stdout.split())
    gui_agent(*resume, "--python-skills", env=env)
    assert marker.read_text() == "its code ran"  # given now, as the help says: the code runs
