"""The embedded planner end to end in Xvfb (`gui-agent run` with no endpoint), and the snap check."""

import os
import shutil
import subprocess
import sys

import pytest

from agent.core.episode import read_episode
from tests.support.endpoint import ScriptedEndpoint
from tests.support.scenarios import HEIGHT, WIDTH, gui_agent


def no_endpoint_env(session) -> dict:
    return {k: v for k, v in session.env.items() if k not in ("GUI_AGENT_API_KEY", "ZAI_API_KEY", "GUI_AGENT_BASE_URL")}


def test_a_multi_step_form_instruction(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+200+60")
    app.wait_ready()
    result = gui_agent("run", 'type "Ada Lovelace" into Name, then type "ada@example.com" into Email; '
                              'tick "Subscribe", select Uruguay from Country, select "Large" from Size, click Submit',
                       "--display", x_session.display, "--out", str(tmp_path / "run"), env=no_endpoint_env(x_session))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using the embedded planner" in result.stdout
    submits = [e["values"] for e in app.record()["events"] if e["event"] == "submit"]
    assert submits == [{"name": "Ada Lovelace", "email": "ada@example.com", "subscribe": True, "country": "Uruguay",
                        "size": "Large", "volume": 50}]
    episode = read_episode(tmp_path / "run")
    assert episode.header["planner"] == "local" and episode.end["status"] == "done"
    typing = [s for s in episode.steps if s["call"].startswith("left_click") and "field" in s["action"]["element_info"]]
    assert [[t["call"].split("(")[0] for t in s["then"]] for s in typing] == [["type"]] * 2  # empty: nothing to clear


def test_typing_into_a_field_replaces_what_it_held_and_untick(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    first = gui_agent("run", 'type "Grace" into Name, tick Subscribe', "--model", "local",
                      "--display", x_session.display, "--out", str(tmp_path / "a"), env=x_session.env)
    assert first.returncode == 0, first.stdout
    second = gui_agent("run", 'type "Hopper" into Name, untick Subscribe, tick Subscribe, untick Subscribe',
                       "--model", "local", "--display", x_session.display, "--out", str(tmp_path / "b"),
                       env=x_session.env)
    assert second.returncode == 0, second.stdout
    state = app.record()["state"]
    assert state["name"] == "Hopper" and state["subscribe"] is False


def test_a_multi_step_editor_instruction(x_session, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    app = x_session.launch("editor", "--dir", str(workdir), geometry="720x420+60+40")
    app.wait_ready()
    result = gui_agent("run", "scroll down in Line, double-click brown, right-click brown, click 'Upper Case', "
                              'press ctrl+s, type "ünïcode.txt" into "File name", click Save, wait for "ünïcode.txt"',
                       "--model", "local", "--display", x_session.display, "--out", str(tmp_path / "run"),
                       env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    saved = (workdir / "ünïcode.txt").read_text(encoding="utf-8").splitlines()
    changed = [line for n, line in enumerate(saved, 1) if line != f"Line {n}: the quick brown fox"]
    assert len(saved) == 200 and len(changed) == 1 and changed[0].endswith("the quick BROWN fox")
    assert app.record()["state"]["top_line"] > 1


def test_a_context_menu_item_beside_text_is_found_and_chosen(x_session, tmp_path):
    app = x_session.launch("editor", geometry="720x420+60+40")
    app.wait_ready()
    result = gui_agent("run", "right-click brown, click Paste", "--model", "local", "--display", x_session.display,
                       "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"event": "menu_item", "menu": "context", "label": "Paste"} in [
        {k: e.get(k) for k in ("event", "menu", "label")} for e in app.record()["events"]]


def test_quoted_text_is_typed_with_its_leading_space(x_session, tmp_path):
    app = x_session.launch("editor", geometry="720x420+60+40")
    app.wait_ready()
    result = gui_agent("run", 'click fox, press end, type " jumps over"', "--model", "local",
                       "--display", x_session.display, "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert app.record()["state"]["text"].splitlines()[0] == "Line 1: the quick brown fox jumps over"


def test_scrolling_in_a_window_by_its_title_scrolls_the_part_of_it_not_covered(x_session, tmp_path):
    editor = x_session.launch("editor", geometry="720x420+60+40")
    editor.wait_ready()
    form = x_session.launch("form", geometry="700x560+300+200")  # over the editor's lower right
    form.wait_ready()
    result = gui_agent("run", "scroll down in editor", "--model", "local", "--display", x_session.display,
                       "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert editor.record()["state"]["top_line"] > 1 and form.record()["state"]["country_top"] == "Argentina"


def test_a_scroll_target_not_on_screen_or_a_scroll_that_moves_nothing_is_an_error(x_session, tmp_path):
    form = x_session.launch("form", geometry="700x560+40+30")
    form.wait_ready()
    missing = gui_agent("run", "scroll down in editor", "--model", "local", "--display", x_session.display,
                        "--out", str(tmp_path / "missing"), env=x_session.env)
    assert missing.returncode == 1 and "'editor' is not on screen; did you mean" in missing.stdout
    assert [s for s in read_episode(tmp_path / "missing").steps if "action" in s] == []  # nothing was done
    stuck = gui_agent("run", "scroll up in Country", "--model", "local", "--display", x_session.display,
                      "--out", str(tmp_path / "stuck"), env=x_session.env)
    assert stuck.returncode == 1 and "scrolling up in 'Country' moved nothing" in stuck.stdout
    assert read_episode(tmp_path / "stuck").end["status"] == "error"
    assert form.record()["state"]["country_top"] == "Argentina"


def test_a_target_that_is_not_there_stops_with_the_closest_texts_and_clicks_nothing(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    result = gui_agent("run", "click Frobnicate", "--model", "local", "--display", x_session.display,
                       "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 1
    assert "error" in result.stdout and "'Frobnicate' is not on screen; did you mean " in result.stdout
    assert [e for e in app.record()["events"] if e["event"] == "click"] == []
    assert read_episode(tmp_path / "run").end["status"] == "error"


def test_an_instruction_it_cannot_do_is_refused_before_acting(tmp_path):
    result = gui_agent("run", "make me a sandwich", "--model", "local", "--display", ":0",
                       "--out", str(tmp_path / "run"), env=dict(os.environ))
    assert result.returncode == 1 and "cannot understand 'make me a sandwich'" in result.stdout
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("snap", [True, False])
def test_a_model_click_25px_off_a_labelled_button_is_snapped_onto_it(snap, x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    x, y, w, h = app.wait_ready()["widgets"]["submit"]
    off = (x + w / 2, y + h / 2 + 25)  # 25 px below the button's centre: outside it, on the window background
    point = f"[{round(off[0] / WIDTH * 1000)},{round(off[1] / HEIGHT * 1000)}]"
    reply = (f"Submit the form. <|begin_of_box|>left_click(start_box='{point}', element_info='Submit button')"
             "<|end_of_box|>")
    with ScriptedEndpoint([reply, "DONE()"]) as endpoint:
        args = ["--no-snap"] if not snap else []
        result = gui_agent("run", "submit the form", "--base-url", endpoint.url, "--display", x_session.display,
                           "--out", str(tmp_path / "run"), *args, env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    submitted = any(e["event"] == "submit" for e in app.record()["events"])
    step = read_episode(tmp_path / "run").steps[0]
    if snap:
        assert submitted
        assert step["snap"]["text"] == "Submit" and step["snap"]["model_point"] != step["snap"]["point"]
        sx, sy = step["screen"]["point"]
        assert x <= sx < x + w and y <= sy < y + h
    else:
        assert not submitted and "snap" not in step


def test_ocr_runs_with_the_network_off(tmp_path):
    if not shutil.which("unshare") or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("this machine cannot make a network namespace (unshare -n)")
    script = ("import cv2, numpy as np; from agent.core.ocr import OCR\n"
              "img = np.full((120, 400, 3), 255, np.uint8)\n"
              "cv2.putText(img, 'Offline OK', (20, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)\n"
              "print([t.text for t in OCR().read(img)])")
    result = subprocess.run(["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env=os.environ | {"PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr
    assert "Offline OK" in result.stdout.replace("OfflineOK", "Offline OK")
