"""`gui-agent run` in Xvfb against the loopback endpoint; the apps' own records prove the effects."""

import signal
import subprocess
import sys
import time

import pytest

from agent.core.episode import read_episode
from tests.support.endpoint import ScriptedEndpoint
from tests.support.scenarios import Script, gui_agent, run_scenario


def run_checked(session, name, tmp_path):
    run = run_scenario(session, name, tmp_path / "run", tmp_path / "work")
    assert run.endpoint.errors == [], run.endpoint.errors
    assert run.result.returncode == 0, run.result.stdout + run.result.stderr
    assert run.endpoint.exhausted
    return run.app.record(), run.outcome, run.script, read_episode(tmp_path / "run")


LOGGED_AS = {"country": "country_list", "volume_handle": "volume", "menu": None}  # menus log no clicks


def clicks_landed_on_the_intended_widgets(record, script, episode):
    """The presses the app saw, in order, are exactly those the pointer actions aimed at."""
    pointer_steps = [s for s in episode.steps if s["action"]["type"] in ("click", "double_click", "drag")]
    assert len(pointer_steps) == len(script.intended)
    expected = []
    for step, intended in zip(pointer_steps, script.intended):
        widget = LOGGED_AS.get(intended.split(":")[0], intended)
        if widget:
            expected += [widget] * (2 if step["action"]["type"] == "double_click" else 1)
    pressed = [e["widget"] for e in record["events"] if e["event"] == "click" and e["button"] in (1, 3)]
    assert pressed == expected


def test_form_task_completes_and_the_form_records_every_effect(x_session, tmp_path):
    record, outcome, script, episode = run_checked(x_session, "form", tmp_path)
    assert outcome["submitted"] == {"name": "ZOË ÅNGSTRÖM", "email": "zoe@example.com", "subscribe": True,
                                    "country": "Uruguay", "size": "Small", "volume": outcome["submitted"]["volume"]}
    assert outcome["submitted"]["volume"] > 60  # dragged from 50 to the right
    assert outcome["chosen"] == ["Uruguay"]  # the double-click hit the row
    assert {"event": "menu_item", "label": "Upper case"} in record["events"]
    clicks_landed_on_the_intended_widgets(record, script, episode)
    assert episode.end["status"] == "done" and len(episode.steps) == 12


def test_editor_task_completes_and_the_saved_file_proves_it(x_session, tmp_path):
    record, outcome, script, episode = run_checked(x_session, "editor", tmp_path)
    assert outcome["top_line"] > 10  # scrolled
    word = outcome["selection"]
    assert word and word.isupper() and " " not in word  # double-click selected one word, menu upper-cased it
    assert outcome["saved_lines"] == 200 and len(outcome["changed_lines"]) == 1
    assert word in outcome["changed_lines"][0] and word.lower() in "the quick brown fox"
    assert [e["event"] for e in record["events"]].count("saved") == 1


def test_every_click_lands_inside_the_intended_widget_at_1366x768(x_session, tmp_path):
    """Each pointer action's screen point, as the episode records it, lies in the Tk rectangle it aimed at."""
    app = x_session.launch("form", geometry="700x560+300+120")
    app.wait_ready()
    targets = ["name_entry", "email_entry", "subscribe", "submit", "clear", "volume_handle", "country_list",
               "country:Argentina", "country:Canada", "size_combo"]  # the combobox last: its dropdown grabs the pointer
    script = Script(app)
    replies = [script.pointer("left_click", name, f"Click {name}.") for name in targets] + ["DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "click everything", "--base-url", endpoint.url, "--display", x_session.display,
                           "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stderr
    assert endpoint.errors == [] and endpoint.exhausted
    rects = app.record()["widgets"]
    steps = read_episode(tmp_path / "run").steps
    for name, step in zip(targets, steps):
        x, y = step["screen"]["point"]
        rx, ry, rw, rh = rects[name]
        assert rx <= x < rx + rw and ry <= y < ry + rh, (name, (x, y), rects[name])
    pressed = [e["widget"] for e in app.record()["events"] if e["event"] == "click"]
    assert pressed == [LOGGED_AS.get(name.split(":")[0], name) for name in targets]


def test_dry_run_performs_nothing_and_records_what_it_would_do(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    replies = [script.pointer("left_click", "name_entry", "Focus."), "type(content='Zoë')", "key(keys='ctrl+Return')",
               script.pointer("left_double_click", "country:Canada", "Choose."),
               script.pointer("right_click", "name_entry", "Menu."), script.drag("volume_handle", 100, "Louder."),
               script.scroll("country_list", "down", 5, "Scroll."), script.pointer("left_click", "submit", "Submit."),
               "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "submit", "--dry-run", "--base-url", endpoint.url, "--display", x_session.display,
                           "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stderr
    record = app.record()
    assert [e for e in record["events"] if e["event"] != "quit"] == []
    state = record["state"]
    assert state["name"] == "" and state["volume"] == 50 and state["country_top"] == "Argentina"
    steps = read_episode(tmp_path / "run").steps
    assert [s["outcome"] for s in steps] == ["ok"] * len(replies)
    assert steps[0]["screen"]["point"] and steps[5]["screen"]["end"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_ends_interrupted_and_keeps_its_steps(signum, x_session, tmp_path):
    with ScriptedEndpoint(["WAIT()"] * 3) as endpoint:
        process = subprocess.Popen([sys.executable, "-m", "agent", "run", "wait", "--base-url", endpoint.url,
                                    "--display", x_session.display, "--out", str(tmp_path / "run")],
                                   env=x_session.env, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while len(endpoint.requests) < 2 and time.monotonic() < deadline:  # the second wait is under way
            time.sleep(0.05)
        process.send_signal(signum)
        assert process.wait(timeout=15) == 130
    episode = read_episode(tmp_path / "run")
    assert episode.end["status"] == "interrupted"
    assert [s["outcome"] for s in episode.steps] == ["ok", "interrupted"]  # the step it was in keeps its line
