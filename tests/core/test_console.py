"""What the terminal shows: text from replies, episodes and errors never reaches it raw."""

from agent.core.console import RunView, console, show_error
from tests.front.test_report import field
from tests.support import EPISODES
from tests.support.scenarios import gui_agent

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31m[bold]red[/bold]\x9b1m"  # invented: retitle, clear, colour, markup


def test_control_characters_from_a_reply_are_shown_not_sent_to_the_terminal():
    record = {"index": 1, "call": f"type(content='{HOSTILE}')", "screen": {}, "explanation": HOSTILE,
              "error": HOSTILE, "timings": {}, "then": [{"call": HOSTILE, "screen": {}, "error": HOSTILE}]}
    with console.capture() as captured:
        RunView(5).step(record)
        RunView(5).step({"index": 2, "outcome": HOSTILE, "error": HOSTILE, "timings": {}})
        RunView(5).summary(HOSTILE, HOSTILE, 2, "out")
        show_error(HOSTILE)
    shown = captured.get()
    assert not any(ord(char) < 32 and char != "\n" or 0x7f <= ord(char) <= 0x9f for char in shown)
    assert shown.count("\\x1b]0;owned\\x07\\x1b[2J\\x1b[31m[bold]red[/bold]\\x9b1m") >= 8


def test_the_embedded_planners_time_is_called_planning():
    for planned_here, said in ((True, "planning"), (False, "in the model")):
        view = RunView(5, planned_here=planned_here)
        view.step({"index": 1, "call": "DONE()", "screen": {}, "timings": {"model": 0.25, "capture": 0.01}})
        with console.capture() as captured:
            view.summary("done", "", 1, "out")
        assert f"250ms {said}, 10ms on the machine" in " ".join(captured.get().split())


def test_an_action_after_which_the_screen_did_not_change_is_said_to():
    record = {"index": 1, "call": "left_click(start_box='[1,1]')", "screen": {"point": [1, 1]}, "changed": True,
              "timings": {}, "then": [{"call": "type(content='x')", "screen": {}, "error": None, "changed": False}]}
    with console.capture() as captured:
        RunView(5).step(record)
    lines = captured.get().splitlines()
    assert "no visible change" not in lines[0] and lines[1].endswith("then type(content='x')   no visible change")


def test_a_dry_run_says_so_first_and_in_its_summary():
    with console.capture() as captured:
        view = RunView(5, dry_run=True)
        view.start()
        view.summary("done", "", 1, "out")
    lines = captured.get().splitlines()
    assert lines[0] == "dry run: nothing is performed on the screen; the episode records what would have been done"
    assert any(line.split() == ["dry", "run", "nothing", "was", "performed", "on", "the", "screen"] for line in lines)
    with console.capture() as captured:
        view = RunView(5)
        view.start()
        view.summary("done", "", 1, "out")
    assert "dry run" not in captured.get()


def test_the_command_line_and_the_report_of_a_dry_run_say_it_is_one(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    out = tmp_path / "run"
    result = gui_agent("run", "--model", "local", "--dry-run", 'type "Ada" into Name', "--display", x_session.display,
                       "--out", str(out), "--stop-keys", "none", env=x_session.env)
    assert (out / "report.html").is_file(), result.stdout + result.stderr  # it ends failed: nothing shows the text
    assert result.stdout.splitlines()[0].startswith("dry run: nothing is performed on the screen"), result.stdout
    assert field((out / "report.html").read_text(encoding="utf-8"), "dry run").startswith("nothing was performed")
    assert app.record()["state"]["name"] == ""  # and nothing was


def test_a_regrounded_replay_run_dry_says_so_in_its_report(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    out = tmp_path / "replay"
    result = gui_agent("replay", str(EPISODES / "form"), "--reground", "--dry-run",
                       "--display", x_session.display, "--out", str(out), "--stop-keys", "none", env=x_session.env)
    assert result.stdout.splitlines()[0].startswith("dry run: nothing is performed on the screen"), result.stdout
    assert field((out / "report.html").read_text(encoding="utf-8"), "dry run").startswith("nothing was performed")
    assert app.record()["state"]["name"] == ""


TURNED = "invoice\u202egpj.exe\u2066\u200f\u061c"  # invented: right-to-left override, isolate, marks


def test_direction_controls_from_a_reply_are_shown_as_escapes():
    record = {"index": 1, "call": f"type(content='{TURNED}')", "screen": {}, "explanation": TURNED, "error": TURNED,
              "timings": {}, "then": [], "snap": {"model_point": [1, 1], "point": [2, 2], "text": TURNED}}
    with console.capture() as captured:
        RunView(5).step(record)
        RunView(5).summary(TURNED, TURNED, 1, "out")
        show_error(TURNED)
    shown = captured.get()
    assert not set("\u202e\u2066\u200f\u061c") & set(shown)
    assert shown.count("invoice\\u202egpj.exe\\u2066\\u200f\\u061c") >= 5


def test_a_replayed_snap_without_its_text_or_distance_is_shown():
    with console.capture() as captured:
        RunView(5).step({"index": 1, "call": "left_click(start_box='[2,2]')", "screen": {}, "timings": {},
                         "snap": {"model_point": [1, 1], "point": [2, 2]}})
    assert "snapped onto '' (None px away)" in captured.get()
