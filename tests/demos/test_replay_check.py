"""A plain replay acts only on a screen that still looks as recorded: the check on real sandbox
screenshots (tests/episodes/), a replay through the loop on recorded screens, and `gui-agent
replay` against a form window that moved."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.core.actions import TypeText
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import Interrupted
from agent.core.executors import RecordingComputer
from agent.core.loop import Agent
from agent.core.screen import Frame
from agent.demos.reground import Looking, RegroundedPlanner
from agent.planners.replay import ReplayPlanner, difference
from agent.reports import write_report
from tests.support import EPISODES
from tests.support.fakes import FakeScreen
from tests.support.scenarios import gui_agent

FORM = EPISODES / "form"
WINDOW = (40, 30, 742, 615)  # the form's window, frame included, in the recorded screenshots
SUBSCRIBE = {"point": (115, 175)}  # step 5 clicks the Subscribe check box there (model space)


def recorded(index: int) -> Frame:
    return Frame.from_png((FORM / f"step-{index:03d}.png").read_bytes())


def edited(frame: Frame, edit) -> Frame:
    pixels = frame.pixels.copy()
    edit(pixels)
    return Frame(pixels, frame.monitor)


def window_moved(dx: int, dy: int):
    def edit(pixels):
        x0, y0, x1, y1 = WINDOW
        window = pixels[y0:y1, x0:x1].copy()
        pixels[y0:y1, x0:x1] = (0, 0, 0, 255)  # the bare desktop
        pixels[y0 + dy:y1 + dy, x0 + dx:x1 + dx] = window
    return edit


def caret_blinked_off(pixels):
    pixels[96:113, 243:245, :3] = 255  # the caret after "zoe@example.com"


def clock(text: str):
    return lambda pixels: cv2.putText(pixels, text, (1290, 760), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255, 255), 1)


def texts_a_pixel_over(pixels):
    pixels[60:270, 51:730] = pixels[60:270, 50:729].copy()


def test_the_same_app_in_the_same_place_matches_despite_a_caret_a_clock_or_another_render():
    then = recorded(5)
    assert difference(then, then, SUBSCRIBE) is None
    assert difference(edited(then, caret_blinked_off), then, SUBSCRIBE) is None
    assert difference(edited(then, clock("10:00")), edited(then, clock("09:59")), SUBSCRIBE) is None
    assert difference(edited(then, texts_a_pixel_over), then, SUBSCRIBE) is None
    assert difference(edited(then, lambda p: np.add(p, 16, out=p, where=p < 239)), then, SUBSCRIBE) is None
    assert difference(edited(then, window_moved(1, 1)), then, SUBSCRIBE) is None


@pytest.mark.parametrize("moved", [2, 10, 100])
def test_a_moved_window_does_not_match(moved):
    then = recorded(5)
    found = difference(edited(then, window_moved(moved, 0)), then, SUBSCRIBE)
    assert found.endswith("(at most 100 in one place)") and int(found.split()[0]) > 1000


def test_a_missing_effect_of_an_earlier_step_does_not_match():
    """Before step 5 the email field holds the typed address; on a screen where it is empty (the
    typing of step 4 went nowhere) step 5 does not act, though its own point looks the same."""
    found = difference(recorded(4), recorded(5), SUBSCRIBE)
    assert found == "516 pixels changed in the place (118, 97)-(244, 114) (at most 100 in one place)"


def test_a_keystroke_has_no_point_and_is_checked_on_the_whole_screen():
    then = recorded(4)  # before typing the email
    assert difference(edited(then, caret_blinked_off), then, {}) is None
    found = difference(edited(then, window_moved(10, 0)), then, {})
    assert found.startswith("7839 pixels changed in the place (40, 30)-(190, 615), and more in 19 other places")
    assert difference(Frame(then.pixels[:400].copy(), then.monitor), then, {}) == \
        "the screen is 1366x400, it was 1366x768"


class RecordedScreens:
    """Shows the form episode's screenshots in order, as the app showed them while recording
    (one more after each action), each passed through `edit` from step `from_step` on."""

    display, monitor_index = ":recorded", 1

    def __init__(self, edit=None, from_step: int = 1):
        self.shown, self.edit, self.from_step = 1, edit, from_step

    def capture(self) -> Frame:
        frame = recorded(self.shown)
        return edited(frame, self.edit) if self.edit and self.shown >= self.from_step else frame

    def settle(self, before: Frame, timeout: float = 3.0) -> tuple[Frame, bool]:
        self.shown = min(self.shown + 1, 12)
        return self.capture(), True


def replay_on(tmp_path: Path, screens, episode: Path = FORM, **options):
    computer = RecordingComputer(recorded(1).monitor)
    out = tmp_path / "replay"
    agent = Agent("replay", ReplayPlanner(read_episode(episode), **options), computer, screens, EpisodeWriter(out))
    status, message = agent.run()
    return status, message, computer, read_episode(out)


def test_a_replay_on_screens_that_look_as_recorded_does_every_step(tmp_path):
    status, message, computer, replayed = replay_on(tmp_path, RecordedScreens())
    assert (status, message) == ("done", "")
    assert len(computer.calls) == 11 and len(replayed.steps) == 12


def test_a_keystroke_on_a_screen_whose_window_moved_is_not_sent(tmp_path):
    """Step 1 clicks into Name on the recorded screen; then the window is elsewhere: the typing of
    step 2 is not done, the step and the run end with an error naming it."""
    status, message, computer, replayed = replay_on(tmp_path, RecordedScreens(window_moved(60, 40), from_step=2))
    assert status == "error" and "\n" not in message
    assert message.startswith("step 2, type(content='Zoë Ångström'): the screen no longer looks as recorded: ")
    assert "pixels changed in the place" in message and message.endswith("nothing was done (replay with --reground "
                                                                          "to find the targets again)")
    assert computer.calls == [("click", (422, 77), "left", 1)]
    assert [s["outcome"] for s in replayed.steps] == ["ok", "error"] and replayed.steps[1]["error"] == message
    assert replayed.end["steps"] == 2


def with_screenshot(tmp_path: Path, index: int, edit) -> Path:
    """A copy of the form episode whose step `index` was recorded on an edited screen."""
    episode = Path(shutil.copytree(FORM, tmp_path / "form"))
    cv2.imwrite(str(episode / f"step-{index:03d}.png"), edited(recorded(index), edit).pixels)
    return episode


def test_a_place_the_recording_caught_mid_change_may_look_as_at_the_next_step(tmp_path):
    """Under load the run's step 3 screenshot was taken while the typed name was still being drawn;
    the replay, which shows all of it as step 4 did, goes on."""
    def half_drawn(pixels):
        pixels[70:84, 150:230, :3] = 255
    episode = with_screenshot(tmp_path, 3, half_drawn)
    status, message, computer, _ = replay_on(tmp_path, RecordedScreens(), episode=episode)
    assert (status, message) == ("done", "") and len(computer.calls) == 11


def test_something_the_recording_showed_that_is_gone_by_the_next_step_must_be_there(tmp_path):
    """Step 3 was recorded with a pop-up (as if step 2 had opened it and step 3 closed it); the
    replay screen has none, as before and after: step 3 is not done."""
    def pop_up(pixels):
        cv2.rectangle(pixels, (450, 450), (650, 520), (255, 255, 255, 255), -1)
        cv2.rectangle(pixels, (450, 450), (650, 520), (0, 0, 0, 255), 1)
        cv2.putText(pixels, "Saved", (520, 490), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0, 255), 1)
    episode = with_screenshot(tmp_path, 3, pop_up)
    status, message, computer, _ = replay_on(tmp_path, RecordedScreens(), episode=episode)
    assert status == "error" and message.startswith("step 3, ")
    assert "540 pixels changed in the place (450, 450)-(651, 521)" in message
    assert len(computer.calls) == 2


def test_a_screen_still_drawing_is_looked_at_again(tmp_path):
    """The first capture after step 1 shows the window in mid-redraw; a second look shows it done."""
    class StillDrawing(RecordedScreens):
        def settle(self, before, timeout=3.0):
            self.shown += 1
            return edited(recorded(self.shown), window_moved(0, 30)), True

    screens = StillDrawing()
    status, message, computer, _ = replay_on(tmp_path / "looked", screens, screen=screens)
    assert (status, message) == ("done", "")
    status, message, computer, _ = replay_on(tmp_path / "once", StillDrawing())
    assert status == "error" and message.startswith("step 2, ")


def test_a_dry_run_replay_checks_only_the_first_screen(tmp_path):
    still = RecordedScreens()
    still.capture = lambda: recorded(1)  # nothing performed: the screen never changes
    status, _, computer, _ = replay_on(tmp_path / "dry", still, check_all=False)
    assert status == "done" and len(computer.calls) == 11
    status, message, computer, _ = replay_on(tmp_path / "checked", still)  # the name typed at step 2 is missing
    assert status == "error" and message.startswith("step 3, left_click(") and len(computer.calls) == 2
    assert "388 pixels changed in the place (118, 68)-(211, 85)" in message


def test_a_missing_recorded_screenshot_stops_the_replay_before_that_step(tmp_path):
    episode = Path(shutil.copytree(FORM, tmp_path / "form"))
    (episode / "step-003.png").unlink()
    status, message, computer, _ = replay_on(tmp_path, RecordedScreens(), episode=episode)
    assert status == "error" and len(computer.calls) == 2
    assert message.startswith("step 3, left_click(") and "step-003.png is missing or unreadable" in message


def test_a_snapped_click_is_replayed_where_the_run_clicked(tmp_path):
    episode = Path(shutil.copytree(FORM, tmp_path / "form"))
    lines = [json.loads(line) for line in (episode / "episode.jsonl").read_text().splitlines()]
    lines[1]["snap"] = {"model_point": [300, 95], "point": [309, 100], "text": "Name", "distance": 6}
    lines[1]["raw"] = lines[1]["raw"].replace("[309,100]", "[300,95]")
    (episode / "episode.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    status, _, computer, replayed = replay_on(tmp_path, RecordedScreens(), episode=episode)
    assert status == "done" and computer.calls[0] == ("click", (422, 77), "left", 1)
    assert replayed.steps[0]["snap"]["model_point"] == [300, 95]


def test_gui_agent_replay_refuses_a_moved_window_naming_the_step_and_the_app_gets_nothing(x_session, tmp_path):
    """The issue's case: the form moved, a plain replay used to scroll on the bare desktop, switch
    desktops and end done."""
    app = x_session.launch("form", geometry="700x560+140+90")
    app.wait_ready()
    result = gui_agent("replay", str(FORM), "--display", x_session.display, "--out", str(tmp_path / "replay"),
                       env=x_session.env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "step 1, left_click(start_box='[309,100]'" in result.stdout and "--reground" in result.stdout
    assert "around the point it acts on" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    record = app.record()
    assert record["events"] == [] and record["state"]["name"] == ""
    replayed = read_episode(tmp_path / "replay")
    assert replayed.end["status"] == "error" and [s["outcome"] for s in replayed.steps] == ["error"]
    page = write_report(tmp_path / "replay").read_text(encoding="utf-8")
    assert 'data-step="1"' in page and "the screen no longer looks as recorded" in page



def test_a_re_grounded_replay_stopped_during_an_action_keeps_that_step(tmp_path):
    class StoppedWhileTyping(RecordingComputer):
        def type_text(self, text):
            raise Interrupted("the pointer reached a screen corner")

    demo = EpisodeWriter(tmp_path / "demo")
    demo.header(task="t", planner="demonstration", screen={"left": 0, "top": 0, "width": 1366, "height": 768})
    demo.step({"index": 1, "outcome": "ok", "action": TypeText(content="Ada").model_dump(),
               "call": "type(content='Ada')", "screen": {}})
    demo.end("done")
    screen = FakeScreen(1366, 768)
    planner = RegroundedPlanner(read_episode(tmp_path / "demo"), {}, Looking(screen, grounder=None))
    status, _ = Agent("t", planner, StoppedWhileTyping(recorded(1).monitor), screen,
                      EpisodeWriter(tmp_path / "replay")).run()
    step = read_episode(tmp_path / "replay").steps[0]
    assert status == "interrupted" and step["cut"] == "during"
    assert (step["outcome"], step["error"], step["call"]) == ("interrupted", "the pointer reached a screen corner",
                                                              "type(content='Ada')")
    assert (tmp_path / "replay" / step["screenshot"]).is_file()
