"""Screen.settle on a real display, and a real run's step timings.

Settle waits for an app that is still handling the input (it answers the ping it is sent only
then), not for a window that never answers pings, and only once, for PING_PATIENCE, for one that
stopped answering. On real GTK apps, which answer pings before they draw, the screen it returns is
the one the app has finished drawing (a frame taken 1 s later shows the same, but for a caret),
and a blinking caret neither keeps it waiting nor counts as an effect.
A run against the loopback endpoint records timings that add up to each step's wall time."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from agent.core.damage import Drawn
from agent.core.episode import read_episode
from agent.core.geometry import Monitor
from agent.core.screen import CALM_ANSWERS, PING_PATIENCE, WINDOW_QUIET, Frame, Screen, Settling, Undrawn, edits_text
from tests.support import real_apps
from tests.support.endpoint import ScriptedEndpoint
from tests.support.scenarios import centre, per_mille

BUSY_APP = """
import sys, time, tkinter as tk
root = tk.Tk()
root.title("Busy")
root.geometry("300x120+50+50")
label = tk.Label(root, text="waiting", font=("DejaVu Sans", 24), bg="white")
label.pack(fill="both", expand=True)
def handle(event):
    time.sleep(float(sys.argv[1]))  # the event loop is held: nothing is drawn, no ping is answered
    label.config(text="done", bg="red")
root.bind("<Key>", handle)
root.after(300, lambda: print("ready", flush=True))
root.mainloop()
"""


def start_app(x_session, tmp_path: Path, busy_seconds: float) -> subprocess.Popen:
    script = tmp_path / "busy.py"
    script.write_text(BUSY_APP)
    app = subprocess.Popen([sys.executable, str(script), str(busy_seconds)], env=x_session.env,
                           stdout=subprocess.PIPE, text=True)
    assert app.stdout.readline().strip() == "ready"
    xdotool(x_session, "search", "--sync", "--name", "^Busy$", "windowactivate", "--sync")
    return app


def xdotool(x_session, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=x_session.env, check=True, capture_output=True, timeout=10)


def red_in(frame) -> bool:
    blue, green, red = (frame.pixels[60:160, 60:340, channel].astype(int) for channel in range(3))
    return bool(((red > 200) & (green < 60) & (blue < 60)).any())


def settled_after_a_key(screen: Screen, x_session, timeout: float = 3.0):
    screen.settle(screen.capture())  # nothing left to draw from before
    before = screen.capture()
    started = time.monotonic()  # before the key: the app gets it while xdotool is still running
    xdotool(x_session, "key", "a")
    frame, settled = screen.settle(before, timeout=timeout)
    return frame, settled, frame.captured_at - started


def test_settle_waits_for_an_app_still_handling_the_key_longer_than_the_quiet_period(x_session, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    app = start_app(x_session, tmp_path, busy_seconds=0.4)
    screen = Screen(x_session.display)
    try:
        frame, settled, seconds = settled_after_a_key(screen, x_session)
        assert settled and red_in(frame), f"settled after {seconds:.3f} s on a frame from before the key's effect"
        assert seconds >= 0.4
    finally:
        screen.close()
        app.kill()


def test_without_damage_settle_goes_by_the_pixels(x_session, tmp_path, monkeypatch):
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    app = start_app(x_session, tmp_path, busy_seconds=0.4)
    screen = Screen(x_session.display)
    screen._damage.close()
    screen._damage = None  # as where python-xlib cannot connect or the server has no DAMAGE
    try:
        frame, settled, seconds = settled_after_a_key(screen, x_session)
        assert settled and red_in(frame), f"settled after {seconds:.3f} s on a frame from before the key's effect"
    finally:
        screen.close()
        app.kill()


def test_a_hung_app_is_waited_for_once_and_a_window_that_never_answers_not_at_all(x_session, tmp_path, monkeypatch):
    from Xlib import display

    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    app = start_app(x_session, tmp_path, busy_seconds=30)
    silent = display.Display(x_session.display)  # a client that never reads its events, so never answers
    root = silent.screen().root
    window = root.create_window(400, 300, 200, 100, 0, silent.screen().root_depth,
                                background_pixel=silent.screen().white_pixel)
    window.set_wm_name("Silent")
    window.set_wm_protocols([silent.intern_atom("_NET_WM_PING")])  # says it answers, and does not
    window.map()
    silent.sync()
    wait_until_listed(x_session, "Silent")
    xdotool(x_session, "search", "--name", "^Busy$", "windowactivate", "--sync")  # the keys go to the app
    screen = Screen(x_session.display)
    try:
        _, settled, seconds = settled_after_a_key(screen, x_session)
        assert settled and PING_PATIENCE <= seconds < PING_PATIENCE + 1  # the busy app was waited for, that long
        before = screen.capture()
        started = time.monotonic()
        frame, settled = screen.settle(before)
        assert settled and frame.captured_at - started < 0.5  # neither it nor the silent window is waited for now
    finally:
        screen.close()
        app.kill()
        window.destroy()
        silent.close()


def test_an_app_that_does_not_say_it_answers_pings_is_never_sent_one(x_session, monkeypatch):
    if not shutil.which("xterm"):
        pytest.skip("xterm is not installed (Debian: xterm)")
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    xterm = subprocess.Popen(["xterm", "-T", "Terminal"], env=x_session.env)
    screen = Screen(x_session.display)
    try:
        wait_until_listed(x_session, "Terminal")
        screen.settle(screen.capture())
        time.sleep(0.3)
        assert xterm.poll() is None, "xterm quit: it takes any WM_PROTOCOLS message for WM_DELETE_WINDOW"
    finally:
        screen.close()
        xterm.kill()


def wait_until_listed(x_session, name: str, timeout: float = 20.0) -> None:
    """Until the window manager lists a window of this name among the windows it manages."""
    from Xlib import X, display

    connection = display.Display(x_session.display)
    root = connection.screen().root
    listed = connection.intern_atom("_NET_CLIENT_LIST")
    deadline = time.monotonic() + timeout
    try:
        while True:
            clients = getattr(root.get_full_property(listed, X.AnyPropertyType), "value", [])
            if any(connection.create_resource_object("window", c).get_wm_name() == name for c in clients):
                return
            assert time.monotonic() < deadline, f"the window manager never listed a window {name!r}"
            time.sleep(0.05)
    finally:
        connection.close()


@pytest.fixture
def screen(x_session, monkeypatch):
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    screen = Screen(x_session.display)
    yield screen
    screen.close()


def differs_beyond_a_caret(a, b) -> bool:
    """More than one or two changes 4 pixels wide or less (a caret blinking) between the two frames."""
    mask = (a.pixels[:, :, :3] != b.pixels[:, :, :3]).any(axis=2).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return count - 1 > 2 or bool((stats[1:, cv2.CC_STAT_WIDTH] > 4).any())


def settled_after(screen: Screen, x_session, *xdotool_args: str, timeout: float = 3.0):
    """The settled screen after an xdotool command, whether it settled, and whether it was stale: a
    frame taken 1 s later differs by more than a caret."""
    before = screen.capture()
    xdotool(x_session, *xdotool_args)
    frame, settled = screen.settle(before, timeout=timeout)
    time.sleep(1)
    return frame, settled, differs_beyond_a_caret(frame, screen.capture())


def idle(screen: Screen, seconds: float = 1.0) -> None:
    time.sleep(seconds)
    screen.settle(screen.capture())


def test_the_save_as_dialog_mousepad_opens_is_drawn_whole(x_session, screen):
    real_apps.start(x_session, ["mousepad"], "Mousepad")
    idle(screen)
    frame, settled, stale = settled_after(screen, x_session, "key", "ctrl+s")
    assert real_apps.wait_for_window(x_session, "Save As", timeout=2)
    assert settled and not stale, "the screen was taken before the Save As dialog was drawn whole"


def mousepad_save_as(x_session, screen) -> None:
    """mousepad with its Save As dialog open, drawn and idle."""
    real_apps.start(x_session, ["mousepad"], "Mousepad")
    idle(screen)
    xdotool(x_session, "key", "ctrl+s")
    real_apps.wait_for_window(x_session, "Save As", timeout=10)
    idle(screen, 1.5)


def test_the_save_as_dialog_is_gone_once_enter_saved(x_session, screen):
    mousepad_save_as(x_session, screen)
    xdotool(x_session, "type", "notes.txt")
    idle(screen)
    frame, settled, stale = settled_after(screen, x_session, "key", "Return")
    assert (x_session.files / "notes.txt").exists()
    assert settled and not stale, "the screen was taken while the Save As dialog was still shown"


def test_save_as_shows_save_enabled_once_a_name_was_typed_into_the_empty_field(x_session, screen):
    mousepad_save_as(x_session, screen)
    xdotool(x_session, "key", "ctrl+a", "BackSpace")  # Save greyed out: the name is empty
    idle(screen)
    frame, settled, stale = settled_after(screen, x_session, "type", "--delay", "15", "notes.txt")
    assert settled and not stale, "the screen was taken with Save still greyed out (GTK enables it 0.15 s later)"


def test_keys_that_type_or_delete_text_are_told_from_shortcuts():
    control, caps_lock, backspace, enter = 0xFFE3, 0xFFE5, 0xFF08, 0xFF0D
    assert edits_text([ord("a")]) and edits_text([caps_lock, ord("a")]) and edits_text([backspace])
    assert edits_text([0x1000000 + ord("é")])
    assert not edits_text([control, ord("a")]) and not edits_text([enter]) and not edits_text([])


class StillScreen:
    """A Screen whose pixels never change, with a damage connection that reads `first` once."""

    def __init__(self, first: Drawn):
        self._damage, self._pings = self, None
        self.size, self.first = (400, 300), first

    def read(self) -> Drawn:
        drawn, self.first = self.first, Drawn()
        return drawn

    def grab(self) -> Frame:
        return Frame(np.zeros((300, 400, 4), np.uint8), Monitor(0, 0, 400, 300))

    def focus_in_gtk_dialog(self) -> bool:
        return False

    def focused_tk(self) -> None:
        return None


MENU, DIALOG, ESCAPE, ENTER = 7, 8, 0xFF1B, 0xFF0D


def settling(first: Drawn) -> Settling:
    screen = StillScreen(first)
    return Settling(screen, screen.grab(), time.monotonic() + 3)


def test_a_menu_that_opens_or_closes_without_choosing_is_waited_for_until_drawn_over_whole_then_quiet():
    opened = settling(Drawn(rects=[(10, 10, 100, 40)], mapped={MENU: ((10, 10, 100, 80), 1)}, popups={MENU}))
    assert opened.quiet < WINDOW_QUIET and opened.undrawn, ("the menu's background drawn before it mapped counts "
                                                            "for nothing")
    opened._take(Drawn(rects=[(10, 10, 100, 79)]))
    assert opened.undrawn, "a line of the menu is not drawn yet"
    opened._take(Drawn(rects=[(0, 89, 200, 1)]))
    assert not opened.undrawn and opened.quiet < WINDOW_QUIET
    closed = settling(Drawn(unmapped={MENU: ((10, 10, 100, 80), 0)}, keys=[ESCAPE]))
    assert closed.quiet < WINDOW_QUIET and closed.undrawn, "the area the menu left is not drawn over yet"
    closed._take(Drawn(rects=[(0, 0, 400, 300)], resized={MENU}))  # a window manager resizes a frame that unmaps
    assert not closed.undrawn and closed.quiet < WINDOW_QUIET


def test_a_menu_closed_by_choosing_an_item_a_dialog_and_a_change_of_size_keep_the_window_quiet_spell():
    chosen = settling(Drawn(rects=[(0, 0, 400, 300)], unmapped={MENU: ((10, 10, 100, 80), 0)}, keys=[ENTER]))
    assert chosen.quiet >= WINDOW_QUIET, "the item acts once its menu is gone"
    clicked = settling(Drawn(rects=[(0, 0, 400, 300)], unmapped={MENU: ((10, 10, 100, 80), 0)}, clicked=True))
    assert clicked.quiet >= WINDOW_QUIET
    dialog = settling(Drawn(rects=[(0, 0, 400, 300)], mapped={DIALOG: ((0, 0, 200, 100), 0)}))
    assert dialog.quiet >= WINDOW_QUIET and not dialog.undrawn
    resized = settling(Drawn(rects=[(0, 0, 400, 300)], resized={DIALOG}))
    assert resized.quiet >= WINDOW_QUIET


def test_only_the_part_of_a_window_on_the_screen_is_waited_for():
    area = Undrawn(MENU, 0.0, (300, 250, 200, 100), (400, 300), whole=True)
    area.draw([(300, 250, 100, 50)])
    assert area.drawn
    managed = Undrawn(DIALOG, 0.0, (0, 0, 100, 100), (400, 300), whole=False)
    managed.draw([(0, 0, 100, 49)])
    assert not managed.drawn
    managed.draw([(0, 49, 100, 1)])
    assert managed.drawn


class TkScreen(StillScreen):
    """A StillScreen whose focused window is a Tk window at TK_AREA, and that counts the pings sent."""

    def __init__(self, first: Drawn):
        super().__init__(first)
        self._pings = SimpleNamespace(answering={1})  # it answered the ping every settle begins with
        self.sent: list[int] = []

    def focused_tk(self):
        return 1, TK_AREA

    def ping(self, window: int) -> int:
        self.sent.append(100 + len(self.sent))
        return self.sent[-1]


TK_AREA = (50, 50, 200, 100)


def test_a_tk_window_is_settled_once_it_answered_pings_in_a_row_with_nothing_drawn_between():
    screen = TkScreen(Drawn(rects=[(60, 60, 10, 10)]))
    tk = Settling(screen, screen.grab(), time.monotonic() + 3)
    for _ in range(CALM_ANSWERS - 1):
        tk._hear_tk(Drawn(answered={screen.sent[-1]}))
    assert tk._due() is not None
    tk._hear_tk(Drawn(rects=[(60, 60, 10, 10)], answered={screen.sent[-1]}))  # drawn before the answer came
    assert tk.calm_answers == 0 and tk._due() is not None
    tk._hear_tk(Drawn(answered={screen.sent[-2]}))  # the answer to a ping sent before that drawing
    assert tk.calm_answers == 0
    for _ in range(CALM_ANSWERS):
        tk._hear_tk(Drawn(answered={screen.sent[-1]}))
    assert tk._due() is None


def test_a_drawing_outside_the_tk_window_or_a_window_mapped_leaves_the_settle_to_the_quiet_spell():
    elsewhere = TkScreen(Drawn(rects=[(60, 60, 10, 10), (300, 200, 10, 10)]))
    assert Settling(elsewhere, elsewhere.grab(), time.monotonic() + 3).tk is None
    popup = TkScreen(Drawn(mapped={MENU: ((60, 60, 50, 50), 0)}, popups={MENU}))
    assert Settling(popup, popup.grab(), time.monotonic() + 3).tk is None


CHAINED_APP = """
import time, tkinter as tk
root = tk.Tk()
root.title("Chained")
root.geometry("300x120+50+50")
label = tk.Label(root, text="waiting", font=("DejaVu Sans", 24), bg="white")
label.pack(fill="both", expand=True)
def later(then):  # an idle pass that works for 60 ms (longer than the quiet spell), then schedules the next
    time.sleep(0.06)
    then()
def handle(event):  # drawn over three idle passes, each scheduled by the one before; red only in the last
    label.config(text="one", bg="white")
    root.after_idle(later, lambda: (label.config(text="two"), root.after_idle(later, lambda: label.config(bg="red"))))
root.bind("<Key>", handle)
root.after(300, lambda: print("ready", flush=True))
root.mainloop()
"""


def test_a_tk_app_that_draws_over_several_slow_idle_passes_is_settled_after_the_last(x_session, tmp_path, monkeypatch):
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    script = tmp_path / "chained.py"
    script.write_text(CHAINED_APP)
    app = subprocess.Popen([sys.executable, str(script)], env=x_session.env, stdout=subprocess.PIPE, text=True)
    screen = Screen(x_session.display)
    try:
        assert app.stdout.readline().strip() == "ready"
        xdotool(x_session, "search", "--sync", "--name", "^Chained$", "windowactivate", "--sync")
        for _ in range(5):
            frame, settled, seconds = settled_after_a_key(screen, x_session)
            assert settled and red_in(frame), f"settled after {seconds:.3f} s, before the last idle pass drew"
    finally:
        screen.close()
        app.kill()


def test_galculator_switched_to_scientific_mode_from_its_menu_shows_the_new_mode(x_session, screen):
    real_apps.start(x_session, ["galculator"], "galculator")
    xdotool(x_session, "mousemove", "0", "0")  # no tooltip shows where the new mode puts a button under the pointer
    idle(screen)
    xdotool(x_session, "key", "alt+v")
    idle(screen)
    xdotool(x_session, "key", "Down")  # Scientific Mode, below Basic Mode
    idle(screen)
    frame, settled, stale = settled_after(screen, x_session, "key", "Return")
    assert settled and not stale, "the screen was taken with the menu still open or the mode half drawn"


def test_a_menu_item_chosen_with_other_keys_shows_what_it_did_once_the_menu_is_gone(x_session, screen):
    real_apps.start(x_session, ["galculator"], "galculator")
    xdotool(x_session, "mousemove", "0", "0")
    idle(screen)
    for keys in ("alt+v", "Down", "Return"):  # Scientific Mode
        xdotool(x_session, "key", keys)
        idle(screen)
    frame, settled, stale = settled_after(screen, x_session, "key", "alt+v", "sleep", "0.3", "key", "Return")
    # Basic Mode, the menu's first item, in one action: after Return alone settle waits for GTK's animations
    assert settled and not stale, "the screen was taken once the menu was gone, before the new mode was drawn"


def test_a_zenity_radio_button_shows_it_is_chosen(x_session, screen):
    window = real_apps.start(x_session, ["zenity", "--list", "--radiolist", "--title", "Pick", "--column", "",
                                         "--column", "Fruit", "FALSE", "Apple", "FALSE", "Banana"], "Pick")
    left, top = real_apps.origin(x_session, window)
    real_apps.start(x_session, ["zenity", "--info", "--title", "Other", "--text", "Elsewhere"], "Other")
    xdotool(x_session, "search", "--name", "^Other$", "windowmove", "700", "500")  # the click focuses the list
    idle(screen)
    frame, settled, stale = settled_after(screen, x_session, "mousemove", str(left + 25), str(top + 98), "sleep", "0.03",
                                          "click", "1")  # pointed at first, as a pointer moves
    assert settled and not stale, "the screen was taken before the radio button showed it was chosen"


def test_a_blinking_caret_neither_keeps_settle_waiting_nor_counts_as_an_effect(x_session, screen, tmp_path):
    fast_caret = real_apps.gtk_settings(tmp_path, cursor_blink_time=100, cursor_blink_timeout=1000)
    real_apps.start(x_session, ["zenity", "--entry", "--title", "Name"], "Name", env=fast_caret)
    idle(screen)
    first = screen.capture()  # 3 frames 50 ms apart could all fall in the caret's 67 ms on of 100
    assert any(not first.same_as(screen.capture()) for _ in range(50) if not time.sleep(0.02)), "the caret does not blink"
    for _ in range(5):  # an effect would have to end in a quiet spell, which the caret never leaves
        frame, settled, _ = settled_after(screen, x_session, "key", "shift", timeout=3.0)
        assert settled, "settle waited for its timeout on a blinking caret"


def test_step_timings_add_up_to_each_steps_wall_time(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    widgets = app.wait_ready()["widgets"]

    def click(name, element):
        return f"left_click(start_box='{per_mille(*centre(widgets[name]))}', element_info='{element}')"

    replies = [click("name_entry", "Name input field"), "type(content='Ada')", "key(keys='ctrl+a')",
               click("email_entry", "Email input field"), "type(content='a@b.c')", click("subscribe", "Subscribe"),
               "key(keys='shift')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        child = subprocess.run([sys.executable, __file__, x_session.display, endpoint.url, str(tmp_path / "run")],
                               env=x_session.env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    walls = json.loads(child.stdout.splitlines()[-1])
    steps = read_episode(tmp_path / "run").steps
    assert len(steps) == len(walls) == len(replies) and app.record()["state"]["subscribe"]
    for step, wall in list(zip(steps, walls))[1:]:
        timings = step["timings"]
        assert set(timings) >= {"capture", "encode", "model", "snap", "act"}
        assert abs(sum(timings.values()) - wall) <= 0.05 * wall, (step["index"], timings, wall)
    clicks = [step for step in steps if step["action"]["type"] == "click"]
    assert all(step["timings"]["snap"] > 0 and step["timings"]["settle"] > 0 for step in clicks)


def timed_run(display: str, url: str, out: str) -> None:
    """A run against the endpoint at `url` with snap on; prints each step's wall time as JSON: from
    the grab of its screenshot to the grab of the next (to its line, for the last step), read off the
    frames, not the loop's clock (none for the first step). Its own process: pyautogui binds one
    display per process."""
    from agent.core.episode import EpisodeWriter
    from agent.core.executors import PyAutoGUIComputer
    from agent.core.loop import Agent, Limits
    from agent.planners.glm import GLMConfig, GLMPlanner
    from agent.planners.snap import SnappingPlanner

    screen = Screen(display)
    planner = SnappingPlanner(GLMPlanner(GLMConfig(base_url=url, max_retries=0, timeout=30)))
    agent = Agent("Fill in the form", planner, PyAutoGUIComputer(display, screen.capture().monitor), screen,
                  EpisodeWriter(Path(out)), limits=Limits(steps=20))
    walls, screenshot = [], [None]  # the screenshot the current step decides on, once known

    def on_step(record):
        taken, after = screenshot[0], agent.frame  # the loop's next screenshot
        if taken is not None:
            end = after.captured_at - after.capture_seconds if after is not taken else time.monotonic()
            walls.append(end - (taken.captured_at - taken.capture_seconds))
        else:
            walls.append(None)  # the first step's screenshot was grabbed before any step line
        screenshot[0] = after

    agent.on_step = on_step
    status, message = agent.run()
    assert status == "done", message
    print(json.dumps(walls))


if __name__ == "__main__":
    timed_run(*sys.argv[1:])
