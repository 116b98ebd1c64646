"""The loop with a fake screen, a recording computer and the loopback endpoint: statuses and episodes."""

import json
import os
import signal
import time

import pytest

from agent.core.desktop import stop_on_sigterm
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import GroundingError, Interrupted, StopRequested
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.loop import Agent, Limits
from agent.core.planner import Reply
from agent.planners.glm import GLMConfig, GLMPlanner, interpret
from agent.planners.replay import ReplayPlanner
from tests.support.endpoint import ScriptedEndpoint
from tests.support.fakes import FakeScreen, synthetic_frame

KEY = "test-secret-key-abcdef"


def run(tmp_path, replies, max_steps=10, monitor=None):
    screen = FakeScreen(1366, 768, monitor)
    computer = RecordingComputer(monitor or Monitor(0, 0, 1366, 768))
    with ScriptedEndpoint(replies) as endpoint:
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, api_key=KEY, max_retries=0, timeout=10))
        agent = Agent("Press OK", planner, computer, screen, EpisodeWriter(tmp_path / "run"),
                      limits=Limits(steps=max_steps), settings=planner.config.model_dump())
        status, message = agent.run()
    return status, message, computer, read_episode(tmp_path / "run"), endpoint


def test_a_run_acts_in_screen_pixels_and_records_every_step(tmp_path):
    status, _, computer, episode, endpoint = run(tmp_path, [
        "Click OK. left_click(start_box='[500,500]', element_info='OK')\nMemory:\n[]",
        "Type. type(content='héllo')", "Save. key(keys='ctrl+s')", "All done. DONE()"])
    assert status == "done" and endpoint.exhausted
    assert computer.calls == [("click", (683, 384), "left", 1), ("type_text", "héllo"), ("keypress", ["ctrl", "s"])]
    header, steps, end = episode.header, episode.steps, episode.end
    assert header["task"] == "Press OK" and header["screen"]["width"] == 1366 and header["agent_version"]
    assert [s["index"] for s in steps] == [1, 2, 3, 4]
    first = steps[0]
    assert first["action"] == {"type": "click", "point": [500, 500], "button": "left", "element_info": "OK"}
    assert first["screen"] == {"point": [683, 384]} and first["call"].startswith("left_click(")
    assert first["raw"].startswith("Click OK.") and first["explanation"] == "Click OK." and first["memory"] == "[]"
    assert first["image"] == {"width": 1366, "height": 768, "tokens": 1323}
    assert set(first["timings"]) >= {"capture", "encode", "model", "act", "settle"}
    assert all((episode.path / s["screenshot"]).is_file() for s in steps)
    assert steps[-1]["action"] == {"type": "done"} and end["status"] == "done" and end["steps"] == 4


def test_three_unusable_replies_in_a_row_end_the_run_and_keep_the_raw_replies(tmp_path):
    status, message, computer, episode, endpoint = run(tmp_path, [
        "I would click OK", "left_click(start_box='[1200,5]')", "Bye"])
    assert status == "format_errors" and "3 unusable replies" in message and endpoint.exhausted
    assert computer.calls == []
    assert [s["raw"] for s in episode.steps] == ["I would click OK", "left_click(start_box='[1200,5]')", "Bye"]
    assert all(s["outcome"] == "format_error" and s["error"] for s in episode.steps)
    corrections = ["# Correction" in json.dumps(r) for r in endpoint.requests]
    assert corrections == [False, True, True]


def test_a_step_times_only_what_it_did(tmp_path):
    status, _, _, episode, _ = run(tmp_path, ["nope", "Press. key(keys='enter')", "DONE()"])
    assert status == "done"
    unusable, acted, done = (step["timings"] for step in episode.steps)
    assert set(unusable) == {"capture", "encode", "model"}  # nothing acted on, no screen awaited
    assert set(acted) == {"capture", "encode", "model", "act", "settle"}
    assert set(done) == {"capture", "encode", "model", "act"}  # DONE() awaits nothing
    assert acted["capture"] == 0  # it decides on the screenshot the unusable reply was given: no grab
    assert all(seconds >= 0 for step in episode.steps for seconds in step["timings"].values())


def test_a_good_reply_resets_the_format_error_count(tmp_path):
    status, *_ = run(tmp_path, ["nope", "nope", "WAIT()", "nope", "nope", "DONE()"])
    assert status == "done"


def test_fail_and_step_limit_have_their_own_statuses(tmp_path):
    assert run(tmp_path / "a", ["FAIL()"])[0] == "failed"
    status, message, *_ = run(tmp_path / "b", ["WAIT()"] * 2, max_steps=2)
    assert status == "step_limit" and "2 steps" in message


def test_the_end_line_names_the_screenshot_of_the_screen_the_run_left(tmp_path):
    *_, done, _ = run(tmp_path / "a", ["Click. left_click(start_box='[500,500]')", "DONE()"])
    assert done.end["screenshot"] == done.steps[-1]["screenshot"] == "step-002.png"  # DONE's screen is the last
    *_, limited, _ = run(tmp_path / "b", ["Click. left_click(start_box='[500,500]')"] * 2, max_steps=2)
    assert limited.end["status"] == "step_limit" and limited.end["screenshot"] == "final.png"
    final = limited.image("final.png")
    assert final not in [limited.screenshot(step) for step in limited.steps]  # the screen settled after step 2


def test_a_failing_endpoint_ends_the_run_and_keeps_what_was_recorded(tmp_path):
    status, message, _, episode, _ = run(tmp_path, ["WAIT()", {"status": 500}])
    assert status == "endpoint_error" and "HTTP 500" in message and "\n" not in message
    assert episode.end["status"] == "endpoint_error" and episode.end["message"] == message
    assert [s["outcome"] for s in episode.steps] == ["ok", "endpoint_error"]
    assert episode.steps[1]["attempts"] == [{"error": message.split(" (gave up")[0]}]


def test_the_api_key_never_reaches_the_episode(tmp_path):
    run(tmp_path, ["DONE()"])
    for file in (tmp_path / "run").iterdir():
        assert KEY.encode() not in file.read_bytes()


def test_actions_on_a_second_monitor_land_on_that_monitor(tmp_path):
    monitor = Monitor(1920, 0, 1366, 768)
    _, _, computer, episode, _ = run(tmp_path, ["left_click(start_box='[0,0]')", "DONE()"], monitor=monitor)
    assert computer.calls == [("click", (1920, 0), "left", 1)]


def test_a_recorded_episode_replays_to_the_same_actions(tmp_path):
    _, _, first, episode, _ = run(tmp_path, ["left_click(start_box='[10,20]')", "key(keys='enter')", "nope",
                                             "scroll(start_box='[5,5]', direction='down', step=2)", "DONE()"])
    computer = RecordingComputer(Monitor(0, 0, 1366, 768))
    agent = Agent("Press OK", ReplayPlanner(episode), computer, FakeScreen(1366, 768),
                  EpisodeWriter(tmp_path / "replayed"))
    assert agent.run()[0] == "done"
    assert computer.calls == first.calls
    replayed = read_episode(tmp_path / "replayed")
    assert [s["raw"] for s in replayed.steps] == [s["raw"] for s in episode.steps]


def test_a_replay_that_runs_out_of_replies_is_an_error(tmp_path):
    _, _, _, episode, _ = run(tmp_path, ["WAIT()"], max_steps=1)
    agent = Agent("t", ReplayPlanner(episode), RecordingComputer(Monitor(0, 0, 1366, 768)), FakeScreen(1366, 768),
                  EpisodeWriter(tmp_path / "again"))
    status, message = agent.run()
    assert status == "error" and "no more recorded replies" in message


class LibraryPlanner:
    """Plans inside a library call that wraps every Exception, as rapidocr does around onnxruntime."""
    name = "library"

    def __init__(self, during):
        self.during = during

    def decide(self, task, frame, feedback):
        try:
            self.during()
        except Exception as error:
            raise RuntimeError("the library failed") from error


def run_with(tmp_path, planner):
    agent = Agent("Press OK", planner, RecordingComputer(Monitor(0, 0, 1366, 768)), FakeScreen(1366, 768),
                  EpisodeWriter(tmp_path / "run"))
    return agent.run


def test_sigterm_inside_a_library_that_wraps_exceptions_still_ends_the_run_as_interrupted(tmp_path):
    def terminated_midway():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        status, message = run_with(tmp_path, LibraryPlanner(terminated_midway))()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (status, message) == ("interrupted", "terminated by SIGTERM")
    assert read_episode(tmp_path / "run").end["status"] == "interrupted"


def test_an_unexpected_exception_still_writes_the_end_line_naming_it(tmp_path):
    def broken():
        raise ValueError("boom")

    with pytest.raises(RuntimeError):
        run_with(tmp_path, LibraryPlanner(broken))()
    end = read_episode(tmp_path / "run").end
    assert end["status"] == "error" and end["message"].startswith("unexpected RuntimeError: the library failed")


def test_the_stop_watch_stops_a_run_once_however_often_the_corner_is_reached():
    """Several pointer moves land in the corner; only the first signals, so no second stop can cut
    into the episode's end line."""
    from agent.core.stop import StopWatch

    signalled = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: signalled.append(signum))
    try:
        watch = StopWatch(":0", corners=[(0, 0)])
        for _ in range(3):
            watch._move(0, 0)
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert len(signalled) == 1 and "corner" in watch.reason


class ScriptedPlanner:
    """Decides from a list of replies; an exception in the list is raised at that step instead."""
    name = "scripted"

    def __init__(self, *replies):
        self.replies = list(replies)

    def decide(self, task, frame, feedback):
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return interpret(Reply(reply))


def test_a_planner_that_cannot_go_on_still_records_the_step_it_stopped_at(tmp_path):
    """A target not found ends the run; the step whose screenshot was taken keeps its line, so the
    console, the episode and its end line count the same steps."""
    shown = []
    planner = ScriptedPlanner("left_click(start_box='[10,10]')", GroundingError("'Submit' is not on the screen"))
    agent = Agent("t", planner, RecordingComputer(Monitor(0, 0, 1366, 768)), FakeScreen(1366, 768),
                  EpisodeWriter(tmp_path / "run"), on_step=shown.append)
    assert agent.run() == ("error", "'Submit' is not on the screen")
    episode = read_episode(tmp_path / "run")
    assert [s["outcome"] for s in episode.steps] == ["ok", "error"]
    assert episode.steps[1]["error"] == "'Submit' is not on the screen" and "call" not in episode.steps[1]
    assert len(shown) == agent.steps == episode.end["steps"] == len(episode.steps) == 2
    assert sorted(p.name for p in episode.path.glob("*.png")) == [s["screenshot"] for s in episode.steps]


def test_a_stop_in_the_middle_of_an_action_keeps_the_step_and_its_reply(tmp_path):
    class CornerComputer(RecordingComputer):
        def click(self, point, button, count):
            raise Interrupted("the pointer reached a screen corner")

    planner = ScriptedPlanner("WAIT()", "left_click(start_box='[0,0]')")
    agent = Agent("t", planner, CornerComputer(Monitor(0, 0, 1366, 768)), FakeScreen(1366, 768),
                  EpisodeWriter(tmp_path / "run"))
    assert agent.run() == ("interrupted", "the pointer reached a screen corner")
    episode = read_episode(tmp_path / "run")
    assert [s["outcome"] for s in episode.steps] == ["ok", "interrupted"]
    assert episode.steps[1]["raw"] == "left_click(start_box='[0,0]')" and episode.end["steps"] == 2


def act_lines(out):
    return [json.loads(line) for line in (out / "episode.jsonl").read_text().splitlines() if '"kind": "act"' in line]


def test_a_run_that_ends_inside_a_reply_records_the_calls_done_before_it(tmp_path):
    """needs_confirmation on the third call: the first two happened, and both the act lines and the
    step line say so; the third is listed as stopped before it was done."""
    from agent.core.confirm import Confirmer

    reply = "<|begin_of_box|>left_click(start_box='[10,10]')\ntype(content='abc')\nkey(keys='alt+F4')<|end_of_box|>"
    computer = RecordingComputer(Monitor(0, 0, 1366, 768))
    agent = Agent("t", ScriptedPlanner(reply), computer, FakeScreen(1366, 768), EpisodeWriter(tmp_path / "run"),
                  confirmer=Confirmer("ask", ask=lambda question: None))
    assert agent.run()[0] == "needs_confirmation"
    assert [call[0] for call in computer.calls] == ["click", "type_text"]
    click = "left_click(start_box='[10,10]', element_info='')"
    assert [a["call"] for a in act_lines(tmp_path / "run")] == [click, "type(content='abc')"]
    assert act_lines(tmp_path / "run")[0] == {"kind": "act", "step": 1, "call": click,
                                              "action": {"type": "click", "point": [10, 10], "button": "left",
                                                         "element_info": ""}, "screen": {"point": [14, 8]}}
    step = read_episode(tmp_path / "run").steps[0]
    assert step["outcome"] == "ok" and [t["outcome"] for t in step["then"]] == ["ok", "needs_confirmation"]
    assert step["then"][1]["cut"] == "before" and "cut" not in step


class StoppedWhileTyping(RecordingComputer):
    def type_text(self, text):
        self.typed = 7  # a stop key pressed after 7 characters
        raise StopRequested("the stop keys were pressed")


def test_a_type_cut_by_a_stop_is_recorded_with_how_far_it_got_and_resume_tells_the_model(tmp_path):
    from agent.planners.glm_tools import ToolsConfig, ToolsPlanner

    reply = "<|begin_of_box|>left_click(start_box='[10,10]')\ntype(content='a long text')<|end_of_box|>"
    agent = Agent("t", ScriptedPlanner("WAIT()", reply), StoppedWhileTyping(Monitor(0, 0, 1366, 768)),
                  FakeScreen(1366, 768), EpisodeWriter(tmp_path / "run"))
    assert agent.run() == ("interrupted", "the stop keys were pressed")
    assert [a["call"] for a in act_lines(tmp_path / "run")][-1] == "type(content='a long text')"
    episode = read_episode(tmp_path / "run")
    cut = episode.steps[1]["then"][0]
    assert (cut["outcome"], cut["cut"], cut["typed"]) == ("interrupted", "during", 7)
    planner = GLMPlanner(GLMConfig(base_url="http://127.0.0.1:9/v1"))
    planner.restore(episode)
    last = planner.turns[-1]
    assert last.call == "left_click(start_box='[10,10]', element_info='')\ntype(content='a long text')"
    assert "cut short" in last.thought and "at least 7 of its characters were typed" in last.thought
    tools = ToolsPlanner(ToolsConfig(base_url="http://127.0.0.1:9/v1"))
    tools.restore(episode)
    told = tools.messages[-1]["content"][0]["text"]
    assert tools.messages[-2]["role"] == "assistant" and "cut short" in told and "7 of its characters" in told


def test_a_step_killed_between_its_act_lines_and_its_step_line_is_history_on_resume(tmp_path):
    """SIGKILL leaves act lines and no step line; read as a step with no reply (every act but the
    last done, the last under way), resume still shows the model what was done and where it stopped."""
    from agent.core.episode import Episode
    from agent.planners.glm_tools import ToolsConfig, ToolsPlanner

    click = {"action": {"type": "click", "point": [10, 10], "button": "left", "element_info": ""},
             "call": "left_click(start_box='[10,10]', element_info='')", "screen": {"point": [14, 8]}}
    typing = {"action": {"type": "type", "content": "hello"}, "call": "type(content='hello')", "screen": {}}
    killed = {"kind": "step", "index": 1, "screenshot": "step-001.png", "outcome": "ok", "error": None, **click,
              "then": [{"outcome": "interrupted", "error": "the run was killed while this was under way",
                        "cut": "during", **typing}]}
    episode = Episode(tmp_path, {"kind": "header", "task": "t"}, [killed])
    planner = GLMPlanner(GLMConfig(base_url="http://127.0.0.1:9/v1"))
    planner.restore(episode)
    assert planner.turns[0].call == click["call"] + "\ntype(content='hello')" and "killed" in planner.turns[0].thought
    tools = ToolsPlanner(ToolsConfig(base_url="http://127.0.0.1:9/v1"))
    tools.restore(episode)
    assert "type(content='hello')" in tools.messages[-2]["content"] and "killed" in json.dumps(tools.messages[-1])


def test_a_time_limit_reached_while_typing_ends_the_run_time_limit(tmp_path):
    from agent.core.stop import TimeUp

    class SlowTyping(RecordingComputer):
        def type_text(self, text):
            raise TimeUp("the time limit ran out while typing")

    agent = Agent("t", ScriptedPlanner("type(content='x')"), SlowTyping(Monitor(0, 0, 1366, 768)),
                  FakeScreen(1366, 768), EpisodeWriter(tmp_path / "run"), limits=Limits(seconds=60))
    assert agent.run() == ("time_limit", "the time limit ran out while typing")
    assert read_episode(tmp_path / "run").steps[0]["cut"] == "during"


class ScreenChangedByClicks(FakeScreen):
    """Draws something new after a click, nothing after any other action."""

    def __init__(self, computer: RecordingComputer):
        super().__init__(1366, 768)
        self.computer = computer

    def capture(self):
        return synthetic_frame(1366, 768, shade=sum(call[0] == "click" for call in self.computer.calls))


def test_each_performed_action_says_whether_the_screen_changed_after_it(tmp_path):
    computer = RecordingComputer(Monitor(0, 0, 1366, 768))
    with ScriptedEndpoint(["Click, then a key. left_click(start_box='[500,500]')\nkey(keys='shift')",
                           "Key. key(keys='shift')", "DONE()"]) as endpoint:
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, api_key=KEY, max_retries=0, timeout=10))
        Agent("Press OK", planner, computer, ScreenChangedByClicks(computer), EpisodeWriter(tmp_path / "run")).run()
    first, second, done = read_episode(tmp_path / "run").steps
    assert first["changed"] is True and [then["changed"] for then in first["then"]] == [False]
    assert second["changed"] is False and "changed" not in done  # no settle after DONE()


def test_a_failed_run_ends_with_the_reason_it_gave(tmp_path):
    status, message, *_ = run(tmp_path, ["The Save button stays greyed out. FAIL()"])
    assert status == "failed" and message == "The Save button stays greyed out."
    assert read_episode(tmp_path / "run").end["message"] == message
