"""Demonstrations: a task performed with xdotool as a person would is recorded by agent.demos.record,
replayed by agent.demos.reground on a window that moved and changed size, and kept as a skill with a
parameter. Recording, replays and skills run in processes of their own, as the command line runs
them (pyautogui binds one display per process); the form's own record proves the effects."""

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from agent.core import actions as a
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import AgentError
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.loop import Agent
from agent.core.ocr import OCR
from agent.core.planner import Reply
from agent.core.screen import Frame
from agent.demos.record import Event, Merger, crop_around, key_name
from agent.demos.reground import CONTEXT_SIZE, Grounder, Looking, RegroundedPlanner, Target
from agent.demos.skills import add_skill, find_skill, list_skills
from agent.export import export
from agent.planners.glm import interpret
from sandbox.session import App, XSession
from tests.support import EPISODES, ROOT
from tests.support.fakes import ScriptedScreen
from tests.support.scenarios import HEIGHT, SCENARIOS, WIDTH, gui_agent

RECORDED_AT = "700x560+40+30"
CALL = ("import json, sys, importlib; module, name = sys.argv[1].rsplit('.', 1); "
        "print(json.dumps(getattr(importlib.import_module(module), name)(*json.loads(sys.argv[2]), "
        "**json.loads(sys.argv[3]))))")


def start(function: str, *args, env: dict, **kwargs) -> subprocess.Popen:
    """Calls agent.MODULE.FUNCTION in a new process; its result is printed as JSON."""
    return subprocess.Popen([sys.executable, "-c", CALL, function, json.dumps(args), json.dumps(kwargs)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(process: subprocess.Popen, timeout: float = 120):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, out + err
    return json.loads(out.strip().splitlines()[-1])


def call(function: str, *args, env: dict, **kwargs):
    return result_of(start(function, *args, env=env, **kwargs))


class Person:
    """Works the form with xdotool, looking at it as a person does before each move."""

    def __init__(self, session: XSession, app: App):
        self.session, self.app = session, app

    def xdotool(self, *args) -> None:
        subprocess.run(["xdotool", *map(str, args)], env=self.session.env, check=True)

    def point_at(self, widget: str, dx: int = 0) -> None:
        x, y, w, h = self.app.wait_until(lambda r: widget in r["widgets"], 5, widget)["widgets"][widget]
        self.xdotool("mousemove", x + w // 2 + dx, y + h // 2)
        time.sleep(0.2)

    def click(self, widget: str, dx: int = 0, count: int = 1) -> None:
        self.point_at(widget, dx)
        self.xdotool("click", "--repeat", count, "--delay", 80, 1)

    def paste(self, text: str) -> None:
        subprocess.run(["xclip", "-selection", "clipboard"], input=text.encode(), env=self.session.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        self.xdotool("key", "ctrl+v")

    def sees(self, check) -> dict:
        record = self.app.wait_until(check, 10)
        time.sleep(0.3)
        return record


def demonstrate(person: Person) -> None:
    person.click("name_entry", dx=-200)
    person.xdotool("type", "Zo")
    person.paste("ë Ångström")
    person.sees(lambda r: r["state"]["name"] == "Zoë Ångström")
    time.sleep(1.0)  # Tk is still busy with the pasted selection for a while
    person.click("email_entry")
    person.xdotool("type", "Zoe@Example.org")
    person.sees(lambda r: r["state"]["email"] == "Zoe@Example.org")
    person.click("subscribe")
    person.sees(lambda r: r["state"]["subscribe"])
    person.point_at("country_list")
    for _ in range(8):
        person.xdotool("click", 5)
    person.sees(lambda r: "country:Uruguay" in r["widgets"])
    person.click("country:Uruguay", count=2)
    person.sees(lambda r: r["state"]["country"] == "Uruguay")
    person.xdotool("key", "ctrl+Return")
    person.sees(lambda r: any(e["event"] == "submit" for e in r["events"]))


def submitted(record: dict) -> dict | None:
    submits = [e["values"] for e in record["events"] if e["event"] == "submit"]
    return submits[-1] if submits else None


def start_recording(session: XSession, folder: Path) -> subprocess.Popen:
    """The recorder in a process of its own, once it listens (it writes the header then)."""
    recorder = start("agent.demos.record.record", session.display, str(folder), env=session.env)
    deadline = time.monotonic() + 30
    while not (folder / "episode.jsonl").is_file() or not (folder / "episode.jsonl").read_text():
        assert recorder.poll() is None and time.monotonic() < deadline, recorder.communicate()
        time.sleep(0.05)
    return recorder


@dataclass
class Demonstration:
    folder: Path
    state: dict
    submitted: dict
    result: list
    stop_seconds: float


@pytest.fixture(scope="module")
def demonstration(tmp_path_factory) -> Demonstration:
    folder = tmp_path_factory.mktemp("demonstration") / "episode"
    with XSession(WIDTH, HEIGHT) as session:
        app = session.launch("form", geometry=RECORDED_AT)
        app.wait_ready()
        recorder = start_recording(session, folder)
        demonstrate(Person(session, app))
        stopped = time.monotonic()
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=session.env, check=True)
        result = result_of(recorder)
        record = app.record()
        return Demonstration(folder, record["state"], submitted(record), result, time.monotonic() - stopped)


@pytest.mark.xvfb
def test_the_recording_has_one_step_per_action_with_its_targets(demonstration):
    assert demonstration.result == ["done", "stopped by ctrl+alt+shift+q", 8]
    assert demonstration.stop_seconds < 5  # the chord to the recorder's exit, the last steps written
    episode = read_episode(demonstration.folder)
    assert episode.header["planner"] == "demonstration" and episode.end["status"] == "done"
    calls = [s["call"].split("(")[0] for s in episode.steps]
    assert calls == ["left_click", "type", "left_click", "type", "left_click", "scroll", "left_double_click", "key"]
    typed = [s["action"]["content"] for s in episode.steps if s["action"]["type"] == "type"]
    assert typed == ["Zoë Ångström", "Zoe@Example.org"]  # Z, @ and E shifted; "ë Ångström" pasted
    assert episode.steps[1]["pasted_with"] == ["ctrl+v"]
    assert episode.steps[5]["action"]["direction"] == "down" and episode.steps[5]["action"]["steps"] == 8
    assert episode.steps[7]["action"]["keys"] == ["ctrl", "enter"]  # and nothing of the stop keys
    screen = episode.header["screen"]
    for step in episode.steps:
        assert (demonstration.folder / step["screenshot"]).is_file()
        for name, point in step["screen"].items():
            frame = Frame(np.zeros((screen["image_height"], screen["image_width"], 4), np.uint8),
                          Monitor(screen["left"], screen["top"], screen["width"], screen["height"]))
            assert list(frame.geometry.screen_to_model(tuple(point))) == step["action"][name]
            target = step["target"][name]
            assert (demonstration.folder / target["crop"]).is_file()
            assert target["window"]["name"] == "Demo Form"
    assert episode.steps[4]["target"]["point"]["text"] == "Subscribe"
    assert episode.steps[6]["target"]["point"]["text"] == "Uruguay"  # the row's text, beside the point


@pytest.mark.xvfb
def test_the_recording_exports_as_fine_tuning_samples_that_read_back_as_its_actions(demonstration, tmp_path):
    data = tmp_path / "data" / "demo.jsonl"
    result = export([demonstration.folder], data, check=True)
    episode = read_episode(demonstration.folder)
    assert result.samples == len(episode.steps) == 8 and not result.refused and not result.skipped
    samples = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    for number, (sample, step) in enumerate(zip(samples, episode.steps)):
        user, answer = (message["content"] for message in sample["messages"])
        assert user.count("<image>") == len(sample["images"]) == 1 + min(number, 4)  # history, then the screen
        for name in sample["images"]:
            with Image.open(data.parent / name) as image:
                image.load()
        assert (data.parent / sample["images"][-1]).read_bytes() == (demonstration.folder / step["screenshot"]).read_bytes()
        read_back = json.loads(interpret(Reply(answer)).action.model_dump_json())
        assert read_back == step["action"]  # the recorded action, point and all
        assert f"# Task:\n{episode.header['task']}" in user
    assert "Click 'Subscribe' in the 'Demo Form' window." in samples[4]["messages"][1]["content"]


def test_sigint_stops_the_recorder_with_what_was_done_so_far(x_session, tmp_path):
    app = x_session.launch("form", geometry=RECORDED_AT)
    app.wait_ready()
    recorder = start_recording(x_session, tmp_path / "episode")
    Person(x_session, app).click("subscribe")
    app.wait_until(lambda r: r["state"]["subscribe"])
    time.sleep(0.2)
    recorder.send_signal(signal.SIGINT)
    assert result_of(recorder, timeout=30) == ["done", "stopped by SIGINT", 1]
    episode = read_episode(tmp_path / "episode")
    assert [s["call"] for s in episode.steps] == [episode.steps[0]["call"]] and "Subscribe" in episode.steps[0]["call"]
    assert episode.end["message"] == "stopped by SIGINT"


def test_the_replay_on_a_moved_and_resized_window_reproduces_the_app_state(demonstration, x_session, tmp_path):
    app = x_session.launch("form", geometry="780x620+330+100")
    app.wait_ready()
    status, message = call("agent.demos.reground.replay_demonstration", str(demonstration.folder), x_session.display,
                           str(tmp_path / "replay"), env=x_session.env)
    assert (status, message) == ("done", "")
    record = app.record()
    assert record["state"] == demonstration.state
    assert submitted(record) == demonstration.submitted
    replay = read_episode(tmp_path / "replay")
    assert replay.end["status"] == "done" and len(replay.steps) == 8
    for step in replay.steps:
        if step["screen"]:
            assert step["grounding"]["method"] in ("crop", "text", "window") and step["grounding"]["score"] >= 0.8


def test_a_replay_on_a_filled_form_replaces_what_a_field_recorded_empty_holds(demonstration, x_session, tmp_path):
    app = x_session.launch("form", geometry=RECORDED_AT)
    app.wait_ready()
    person = Person(x_session, app)
    person.click("name_entry")
    person.xdotool("type", "Ada")
    person.sees(lambda r: r["state"]["name"] == "Ada")
    status, message = call("agent.demos.reground.replay_demonstration", str(demonstration.folder), x_session.display,
                           str(tmp_path / "replay"), env=x_session.env)
    assert (status, message) == ("done", "")
    assert app.record()["state"] == demonstration.state  # the name typed over Ada, not beside it
    assert submitted(app.record()) == demonstration.submitted
    replay = read_episode(tmp_path / "replay")
    assert [step["call"] for step in replay.steps if "empties" in step] == [
        "key(keys='end')", "key(keys='shift+home')", "key(keys='delete')"]
    assert all(step["grounding"]["method"].startswith("focus") for step in replay.steps
               if step["action"]["type"] in ("type", "key"))


def test_a_target_that_is_gone_stops_the_replay_and_the_partial_replay_is_kept(demonstration, x_session, tmp_path):
    app = x_session.launch("form", geometry="700x130+300+200")  # too short to show the country list
    app.wait_ready()
    status, message = call("agent.demos.reground.replay_demonstration", str(demonstration.folder), x_session.display,
                           str(tmp_path / "replay"), env=x_session.env, target_timeout=2)
    assert status == "error"
    assert message.startswith("step 6 (scroll(") and "not on the screen after 2 s" in message
    assert "\n" not in message
    replay = read_episode(tmp_path / "replay")
    assert replay.end == replay.end | {"status": "error", "message": message, "steps": 6}
    assert [s["outcome"] for s in replay.steps] == ["ok"] * 5 + ["not_found"]
    assert app.record()["state"]["email"] == "Zoe@Example.org" and app.record()["state"]["country"] == ""


def test_a_skill_with_a_parameter_runs_with_a_new_value(demonstration, x_session, tmp_path):
    skills = tmp_path / "skills"
    add_skill("register", demonstration.folder, {"name": "Zoë Ångström"}, "Fill in and submit the form", root=skills)
    listed = {s.name: s.describe() for s in list_skills(skills)}
    assert listed["register"]["params"] == [{"name": "name", "type": "str", "default": "Zoë Ångström"}]
    assert "type(content='{name}')" in (skills / "register" / "episode.jsonl").read_text()
    with pytest.raises(AgentError, match="typed nowhere"):
        add_skill("other", demonstration.folder, {"name": "Ada"}, root=skills)
    app = x_session.launch("form", geometry=RECORDED_AT)
    app.wait_ready()
    status, message = call("agent.demos.skills.run_skill", "register", {"name": "Grace Hopper"}, x_session.display,
                           str(tmp_path / "run"), root=str(skills), env=x_session.env)
    assert (status, message) == ("done", "")
    assert app.record()["state"] == demonstration.state | {"name": "Grace Hopper"}
    assert submitted(app.record()) == demonstration.submitted | {"name": "Grace Hopper"}


def test_an_agent_episode_replays_by_its_screenshots(x_session, tmp_path):
    # moved up and left: the first click's crop (inside an empty field) matches Name and Email
    # equally, and the email field is nearer the recorded point; the larger context tells them apart
    scenario = SCENARIOS["form"]
    app = x_session.launch("form", geometry="700x560+0+0")
    app.wait_ready()
    status, message = call("agent.demos.reground.replay_demonstration", str(EPISODES / "form"), x_session.display,
                           str(tmp_path / "replay"), env=x_session.env)
    assert (status, message) == ("done", "")
    assert scenario.outcome(app.record(), tmp_path) == json.loads((EPISODES / "form" / "outcome.json").read_text())


def test_a_python_skill_runs_with_typed_parameters(x_session, tmp_path):
    assert {"click_text", "type_and_press"} <= {s.name for s in list_skills(python=True)}
    with pytest.raises(AgentError, match="double is a bool"):
        find_skill("click_text", python=True).bind({"text": "Subscribe", "double": "maybe"})
    app = x_session.launch("form", geometry=RECORDED_AT)
    app.wait_ready()
    status, message = call("agent.demos.skills.run_skill", "click_text", {"text": "Subscribe"}, x_session.display,
                           str(tmp_path / "run"), python=True, env=x_session.env)
    assert (status, message) == ("done", "")
    assert app.record()["state"]["subscribe"] is True
    step = read_episode(tmp_path / "run").steps[0]
    assert step["call"].startswith("left_click(") and step["grounding"]["method"] == "text"


# The merging of listener events into actions, without a display.

def merged(*events: Event) -> list[tuple]:
    merger = Merger()
    for event in events:
        merger.feed(event)
        merger.expire(event.time)
    merger.flush()
    shown = {"click": lambda g: g.button, "double_click": lambda g: g.points["point"],
             "drag": lambda g: (g.points["start"], g.points["end"]), "scroll": lambda g: (g.direction, g.steps),
             "type": lambda g: g.text, "key": lambda g: "+".join(g.keys)}
    return [(g.kind, shown[g.kind](g)) for g in merger.finished]


def press(t, x=100, y=100, button="left"):
    return [Event(t, "press", (x, y), button), Event(t + 0.05, "release", (x, y), button)]


def test_two_quick_presses_at_one_place_are_one_double_click():
    assert merged(*press(0.0), *press(0.2)) == [("double_click", (100, 100))]
    assert merged(*press(0.0), *press(1.0)) == [("click", "left")] * 2
    assert merged(*press(0.0), *press(0.2, x=150)) == [("click", "left")] * 2
    assert merged(*press(0.0, button="right")) == [("click", "right")]


def test_a_release_elsewhere_is_a_drag_and_wheel_notches_at_one_place_are_one_scroll():
    assert merged(Event(0, "press", (10, 10), "left"), Event(0.5, "release", (90, 12), "left")) == \
        [("drag", ((10, 10), (90, 12)))]
    notches = [Event(t / 10, "scroll", (50, 50), "down") for t in range(5)] + [Event(0.6, "scroll", (50, 50), "up")]
    assert merged(*notches) == [("scroll", ("down", 5)), ("scroll", ("up", 1))]


def test_typed_and_pasted_characters_are_one_type_action_until_the_pointer_acts():
    keys = [Event(0.1 * i, "text", text=c) for i, c in enumerate("Zox")]
    events = [*keys, Event(0.4, "keys", keys=("backspace",)), Event(0.5, "text", text="ë", keys=("ctrl", "v")),
              *press(0.6), Event(0.8, "text", text="a"), Event(0.9, "keys", keys=("ctrl", "s"))]
    assert merged(*events) == [("type", "Zoë"), ("click", "left"), ("type", "a"), ("key", "ctrl+s")]


def test_a_shifted_key_and_its_unshifted_release_name_the_same_key():
    assert key_name(None, "H", 72) == key_name(None, "h", 104) == "h"
    assert key_name(None, "!", 33) == key_name(None, "1", 49) == "1"
    assert key_name(None, None, 0xFE20) == "tab"  # shift+tab presses ISO_Left_Tab, releases Tab
    assert key_name("ctrl_r", None, None) == "ctrl" and key_name("esc", None, None) == "escape"
    assert key_name("media_play_pause", None, None) is None


# Finding targets again, on synthetic screens.

class FakeWindows:
    def __init__(self, *windows: dict):
        self.windows = list(windows)

    def named(self, name: str) -> list[dict]:
        return [w for w in self.windows if w["name"] == name]


def form_like(left: int, top: int, list_width: int = 300) -> Frame:
    """Two empty fields, labelled Name and Email, and a white list below them."""
    pixels = np.full((400, 600, 4), 217, np.uint8)
    for row, label in enumerate(["Name", "Email"]):
        y = top + 50 * row
        cv2.putText(pixels, label, (left, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0, 255), 1)
        cv2.rectangle(pixels, (left + 60, y), (left + 260, y + 20), (255, 255, 255, 255), -1)
        cv2.rectangle(pixels, (left + 60, y), (left + 260, y + 20), (90, 90, 90, 255), 1)
    cv2.rectangle(pixels, (left + 60, top + 90), (left + 60 + list_width, top + 190), (255, 255, 255, 255), -1)
    return Frame(pixels, Monitor(0, 0, 600, 400))


def target_at(frame: Frame, point, window: dict | None = None) -> Target:
    crop, crop_point = crop_around(frame, point)
    context, context_point = crop_around(frame, point, *CONTEXT_SIZE)
    return Target(point, crop, crop_point, "", (0, 0), window, context, context_point)


def test_equal_crops_in_two_places_are_told_apart_by_their_context():
    recorded = form_like(20, 40)
    target = target_at(recorded, (180, 50))  # inside the empty Name field
    moved = form_like(80, 12)  # the Email field is now nearer the recorded point than the Name field
    found, _ = Grounder(FakeWindows(), OCR()).find(moved, target)
    assert found.method == "crop" and found.point[1] == 22 and 140 <= found.point[0] <= 340


def test_a_blank_place_is_found_at_its_offset_in_its_window_only_if_it_still_looks_blank():
    recorded = form_like(20, 40)
    window = {"name": "Form", "left": 10, "top": 30, "width": 400, "height": 220, "offset": [220, 150]}
    target = target_at(recorded, (230, 180), window)  # inside the white list: nothing to match
    wider = FakeWindows(window | {"left": 70, "top": 5, "width": 460})
    found, _ = Grounder(wider, OCR()).find(form_like(80, 15, list_width=360), target)
    assert (found.method, found.point) == ("window", (290, 155))
    listless = form_like(80, 15, list_width=0)  # gray where the list was
    found, tried = Grounder(wider, OCR()).find(listless, target)
    assert found is None and tried == ["crop blank", "at its offset in window 'Form' (now 460x220, was 400x220) "
                                                     "the place looks 0.41 alike < 0.6"]


@pytest.mark.xvfb
def test_the_command_line_records_replays_keeps_a_skill_and_runs_it(tmp_path):
    """What a user types: gui-agent record, replay (window elsewhere), skills add/list, run-skill."""
    folder, skills = tmp_path / "demo", tmp_path / "skills"
    with XSession(WIDTH, HEIGHT) as session:
        app = session.launch("form", geometry=RECORDED_AT)
        app.wait_ready()
        recorder = subprocess.Popen([sys.executable, "-m", "agent", "record", "--out", str(folder), "--display",
                                     session.display], env=session.env, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (folder / "episode.jsonl").is_file() or not (folder / "episode.jsonl").read_text():
            assert recorder.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        demonstrate(Person(session, app))
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=session.env, check=True)
        out, _ = recorder.communicate(timeout=60)
        assert recorder.returncode == 0, out
        recorded = submitted(app.record())
        app.process.terminate()

        moved = session.launch("form", geometry="780x620+330+100")
        moved.wait_ready()
        result = gui_agent("replay", str(folder), "--display", session.display, "--out", str(tmp_path / "replay"),
                           env=session.env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert submitted(moved.record()) == recorded
        moved.process.terminate()

        added = gui_agent("skills", "add", "register", str(folder), "--param", "name=Zoë Ångström",
                          "--skills", str(skills), env=session.env)
        assert added.returncode == 0, added.stdout + added.stderr
        listed = gui_agent("skills", "list", "--skills", str(skills), env=session.env)
        assert "register" in listed.stdout and "name: str" in listed.stdout
        fresh = session.launch("form", geometry="700x560+100+60")
        fresh.wait_ready()
        ran = gui_agent("run-skill", "register", "--param", "name=Grace Hopper", "--skills", str(skills),
                        "--display", session.display, "--out", str(tmp_path / "skill"), env=session.env)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert submitted(fresh.record())["name"] == "Grace Hopper"


# Key and type steps of a re-grounded replay, on synthetic screens.

def with_text(frame: Frame, text: str = "", cursor: int | None = None, covered: bool = False) -> Frame:
    """`frame` with `text` in its Name field, a text cursor `cursor` pixels into it, or a box over it."""
    pixels = frame.pixels.copy()
    cv2.putText(pixels, text, (84, 55), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0, 255), 1)
    if cursor is not None:
        cv2.line(pixels, (84 + cursor, 43), (84 + cursor, 57), (0, 0, 0, 255), 1)
    if covered:
        cv2.rectangle(pixels, (60, 30), (330, 110), (160, 160, 160, 255), -1)
    return Frame(pixels, frame.monitor)


NAME_FIELD = (200, 50)  # inside the Name field of form_like(20, 40)


def recorded_click_and_type(folder: Path) -> Path:
    """A demonstration: a click into the empty Name field, then 'Grace' typed."""
    empty = form_like(20, 40)
    writer = EpisodeWriter(folder)
    writer.header(task="Type Grace", planner="demonstration", agent_version="test", settings={},
                  screen={"left": 0, "top": 0, "width": 600, "height": 400, "scale": 1.0})
    click = a.Click(point=empty.geometry.screen_to_model(NAME_FIELD))
    steps = [(empty, click, {"point": list(NAME_FIELD)}), (with_text(empty, cursor=0), a.TypeText(content="Grace"), {})]
    for index, (frame, action, screen) in enumerate(steps, 1):
        writer.step({"index": index, "screenshot": writer.screenshot(index, frame.png()), "outcome": "ok",
                     "action": action.model_dump(), "call": action.call(), "screen": screen})
    writer.end("done")
    return folder


def replayed(folder: Path, out: Path, frames: list[Frame]) -> tuple[list[tuple], str | None]:
    """What the replay did on screens that show `frames` in turn, and its error, if any."""
    computer = RecordingComputer(Monitor(0, 0, 600, 400))
    screen = ScriptedScreen(computer, frames)
    planner = RegroundedPlanner(read_episode(folder), {}, Looking(screen, Grounder(FakeWindows(), OCR()),
                                                                  target_timeout=0.5))
    status, message = Agent("Type Grace", planner, computer, screen, EpisodeWriter(out)).run()
    return computer.calls, None if status == "done" else message


def test_key_and_type_steps_are_checked_against_the_screen_and_a_field_recorded_empty_is_emptied(tmp_path):
    folder = recorded_click_and_type(tmp_path / "demo")
    empty, filled = form_like(20, 40), with_text(form_like(20, 40), "Ada")
    calls, error = replayed(folder, tmp_path / "same", [empty, with_text(empty, cursor=0)])
    assert error is None and [call[0] for call in calls] == ["click", "type_text"]

    calls, error = replayed(folder, tmp_path / "filled", [filled, with_text(filled, cursor=36)])
    assert error is None and calls[1:] == [("keypress", ["end"]), ("keypress", ["shift", "home"]),
                                           ("keypress", ["delete"]), ("type_text", "Grace")]
    emptied = [step for step in read_episode(tmp_path / "filled").steps if "empties" in step]
    assert [step["replays"] for step in emptied] == [2, 2, 2]

    calls, error = replayed(folder, tmp_path / "covered", [empty, with_text(empty, covered=True)])
    assert [call[0] for call in calls] == ["click"]  # nothing typed where the field no longer shows
    assert error.startswith("step 2 (type(content='Grace')): where its keys go (where step 1 clicked) does not look "
                            "as recorded after 0.5 s (the place looks ") and error.endswith("; stopped without acting")
    assert read_episode(tmp_path / "covered").steps[-1]["outcome"] == "not_found"


def test_a_recorded_key_repeated_on_a_still_screen_is_done_every_time_and_each_step_has_its_act_line(tmp_path):
    """A replay does what was recorded: the loop's guard against a model repeating itself (the third
    same action on an unchanged screen is not done, the fourth ends the run stuck) is not for it."""
    still = form_like(20, 40)
    writer = EpisodeWriter(tmp_path / "demo")
    writer.header(task="Scroll down", planner="demonstration", agent_version="test", settings={},
                  screen={"left": 0, "top": 0, "width": 600, "height": 400, "scale": 1.0})
    down = a.Key(keys=["down"])
    for index in range(1, 5):
        writer.step({"index": index, "screenshot": writer.screenshot(index, still.png()), "outcome": "ok",
                     "action": down.model_dump(), "call": down.call(), "screen": {}})
    writer.end("done")
    computer = RecordingComputer(Monitor(0, 0, 600, 400))
    screen = ScriptedScreen(computer, [still])
    planner = RegroundedPlanner(read_episode(tmp_path / "demo"), {}, Looking(screen, Grounder(FakeWindows(), OCR())))
    status, message = Agent("Scroll down", planner, computer, screen, EpisodeWriter(tmp_path / "replay")).run()
    assert (status, message) == ("done", "") and computer.calls == [("keypress", ["down"])] * 4
    replay = read_episode(tmp_path / "replay")
    assert [s["outcome"] for s in replay.steps] == ["ok"] * 4 and [s["replays"] for s in replay.steps] == [1, 2, 3, 4]
    acts = [json.loads(line) for line in (tmp_path / "replay" / "episode.jsonl").read_text().splitlines()]
    assert [line["step"] for line in acts if line["kind"] == "act"] == [1, 2, 3, 4]
