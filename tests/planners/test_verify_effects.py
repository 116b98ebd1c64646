"""The embedded planner checks each clause's effect on the screen before going on, in Xvfb, on real GTK apps
(mousepad, pcmanfm) and on Tk: `done` only when every effect was seen, else `failed` naming the clause."""

import sys
import time

from agent.core.episode import read_episode
from tests.support import real_apps
from tests.support.scenarios import gui_agent

# A dialog whose Save button is greyed out until a name is typed, and then for a while more (as an app
# that checks the name first): a click that comes at once does nothing.
SLOW_SAVE = """
import sys, tkinter as tk
from tkinter import ttk
root = tk.Tk(); root.title("Slow Save"); root.geometry("420x140+100+100")
ttk.Label(root, text="File name").grid(row=0, column=0, padx=10, pady=20)
name = tk.StringVar(root)
ttk.Entry(root, textvariable=name, width=30).grid(row=0, column=1)
save = ttk.Button(root, text="Save", state="disabled", command=lambda: open(sys.argv[1], "w").write(name.get()))
save.grid(row=1, column=1, sticky="e", pady=10)
name.trace_add("write", lambda *_: root.after(1500, lambda: save.state(["!disabled" if name.get() else "disabled"])))
root.mainloop()
"""

# A field that takes at most 4 characters, as a code or PIN field does: the rest of what is typed is lost.
SHORT_FIELD = """
import tkinter as tk
from tkinter import ttk
root = tk.Tk(); root.title("Short Field"); root.geometry("420x100+100+100")
ttk.Label(root, text="Code").grid(row=0, column=0, padx=10, pady=30)
fits = root.register(lambda text: len(text) <= 4)
ttk.Entry(root, width=30, validate="key", validatecommand=(fits, "%P")).grid(row=0, column=1)
root.mainloop()
"""


def run_local(session, instruction: str, out, *options: str):
    result = gui_agent("run", instruction, "--model", "local", "--display", session.display, "--out", str(out),
                       *options, env=session.env)
    return result, read_episode(out)


def wait_for_file(path, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.exists()


def test_a_button_greyed_out_until_the_app_enables_it_is_waited_for_then_clicked(x_session, tmp_path):
    saved = tmp_path / "saved.txt"
    x_session.spawn([sys.executable, "-c", SLOW_SAVE, str(saved)])
    real_apps.wait_for_window(x_session, "Slow Save")
    result, episode = run_local(x_session, 'type "notes" into "File name", click Save', tmp_path / "run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert wait_for_file(saved) and saved.read_text() == "notes"
    assert any("looks disabled" in step["explanation"] for step in episode.steps)


def test_a_save_button_that_stays_greyed_out_is_reported_not_clicked(x_session, tmp_path):
    """mousepad's Save As greys Save out while the name is empty."""
    real_apps.start(x_session, ["mousepad"], "Mousepad")
    result, episode = run_local(x_session, "press ctrl+s, wait for Name, press ctrl+a, press BackSpace, click Save",
                                tmp_path / "run", "--target-timeout", "2")
    assert episode.end["status"] == "failed", result.stdout + result.stderr
    assert episode.end["message"] == "'Save' still looks disabled (greyed out) after 2 s; it was not clicked."
    assert not any(step["call"].startswith("left_click") and step["action"]["element_info"] == "Save"
                   for step in episode.steps)


def test_a_name_typed_into_a_save_dialog_is_read_back_before_save_is_clicked(x_session, tmp_path):
    real_apps.start(x_session, ["mousepad"], "Mousepad", cwd=tmp_path)
    result, episode = run_local(x_session, 'press ctrl+s, wait for Name, type "notes.txt" into Name, click Save',
                                tmp_path / "run")
    assert episode.end["status"] == "done", result.stdout + result.stderr
    assert wait_for_file(tmp_path / "notes.txt")


def test_a_rename_whose_base_name_is_preselected_replaces_the_whole_name(x_session, tmp_path):
    """pcmanfm's rename dialog selects "report" of report.txt: typed over that, final.txt makes final.txt.txt."""
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "report.txt").write_text("the report\n")
    real_apps.start(x_session, ["pcmanfm", "--no-desktop", str(folder)], "files")
    result, episode = run_local(x_session, 'click report.txt, press F2, wait for "Please enter a new name", '
                                           'type "final.txt" into "Please enter a new name", press Return',
                                tmp_path / "run")
    assert episode.end["status"] == "done", result.stdout + result.stderr
    assert wait_for_file(folder / "final.txt") and not (folder / "final.txt.txt").exists()


def test_text_a_field_did_not_take_whole_is_typed_once_more_then_the_run_fails(x_session, tmp_path):
    x_session.spawn([sys.executable, "-c", SHORT_FIELD])
    real_apps.wait_for_window(x_session, "Short Field")
    result, episode = run_local(x_session, 'type "ABCDEFGH" into Code', tmp_path / "run")
    assert episode.end["status"] == "failed", result.stdout + result.stderr
    assert episode.end["message"] == "'type \"ABCDEFGH\" into Code' did not take effect: the field shows 'ABCD'."
    assert [s["call"].split("(")[0] for s in episode.steps] == ["left_click", "WAIT", "left_click", "WAIT", "FAIL"]


def test_a_click_that_changes_nothing_is_tried_once_more_then_the_run_fails(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    result, episode = run_local(x_session, 'type "Ada" into Name, click Country', tmp_path / "run")
    assert result.returncode == 10, result.stdout + result.stderr  # failed, not done
    assert episode.end["status"] == "failed"
    assert episode.end["message"] == "'click Country' did not take effect: nothing changed on the screen."
    assert [s["call"].split("(")[0] for s in episode.steps][1:] == ["left_click", "WAIT", "left_click", "WAIT", "FAIL"]
    assert app.record()["state"]["name"] == "Ada"
