"""From the end of an action to the next observation, on real GTK apps (mousepad, galculator, zenity,
pcmanfm), Chromium and the Tk demo apps in one Xvfb: Screen.settle (by what the X server draws, DAMAGE)
next to today's settle it replaces (pings, then 15 ms of unchanged frames: Screen.settle_by_pixels) and
to the floor (the first frame that shows any change), the paths taking turns in one run; and whether
any observation came before the screen showed the action's whole effect.

    python bench/settle_latency.py [--rounds 2]

Each round performs the same actions with the agent's pyautogui executor once per path, the paths in
turn (a different one first each round): actions with a visible effect (typing, a dialog opening and
closing, a menu, a mode switch, radio buttons, a rename dialog, a web form, the Tk form and editor) and
some with none (shift; end in an empty field). For each: latency from the action's return to the
observation; `changed`: that frame differs from the one before the action; `stale`: it differs from a
frame taken LATER seconds after, by more than a caret blinking (one or two changes at most 4 px wide),
so it was taken before the effect was whole.
Paths: `settle` is Screen.settle; `today` is the settle it replaces (settle_by_pixels: pings with 1 s
patience, then 15 ms calm, 120 ms quiet); `floor` captures back to back until the first frame that
differs, the soonest any observation can show an effect (often before it is whole; none for actions
with no effect).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.session import XSession  # noqa: E402

CARET_WIDTH = 4  # a blinking caret is a change at most this wide, and one or two of them at most
LATER = 1.0  # seconds: the frame an observation is compared with to tell whether the effect was whole
PATHS = ("settle", "today", "floor")
PAGE = """<!doctype html><title>Web form</title><body style="font: 16px sans-serif; margin: 20px">
<p><input id=name placeholder=Name style="font-size: 16px; width: 260px"></p>
<p><label><input type=checkbox id=news> Newsletter</label></p>
<p><select id=size><option>Small<option>Medium<option>Large</select></p></body>"""


def stale(frame, later) -> bool:
    mask = (frame.pixels[:, :, :3] != later.pixels[:, :, :3]).any(axis=2).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return count - 1 > 2 or bool((stats[1:, cv2.CC_STAT_WIDTH] > CARET_WIDTH).any())


def first_change(screen, before, timeout=0.5):
    """The first frame that differs from `before`, capturing back to back."""
    start = time.monotonic()
    while True:
        frame = screen.capture()
        if not frame.same_as(before) or frame.captured_at - start >= timeout:
            return frame, not frame.same_as(before)


class Desk:
    """The apps, where they are, and the actions on them, each (app, name, visible, act)."""

    def __init__(self, session: XSession, computer, folder: Path):
        from tests.support import real_apps

        self.session, self.computer, self.saves = session, computer, 0
        self.windows = {}
        form = session.launch("form", geometry="620x560+20+30")
        editor = session.launch("editor", "--dir", str(folder), geometry="600x420+660+60")
        self.tk = form.wait_ready()["widgets"] | {"text": editor.wait_ready()["widgets"]["text"]}
        self.windows["form"] = real_apps.wait_for_window(session, "Demo Form")
        self.windows["editor"] = real_apps.wait_for_window(session, "Demo Editor")
        self.windows["mousepad"] = real_apps.start(session, ["mousepad"], "Mousepad")
        self.windows["galculator"] = real_apps.start(session, ["galculator"], "galculator")
        self.windows["zenity"] = real_apps.start(session, ["zenity", "--list", "--radiolist", "--title", "Pick",
                                                           "--column", "", "--column", "Fruit", "FALSE", "Apple",
                                                           "FALSE", "Banana"], "Pick")
        documents = folder / "Documents"
        documents.mkdir()
        (documents / "report.txt").write_text("a report\n")
        (documents / "notes.txt").write_text("notes\n")
        self.windows["pcmanfm"] = real_apps.start(session, ["pcmanfm", str(documents)], "Documents")
        page = folder / "form.html"
        page.write_text(PAGE)
        self.windows["chromium"] = real_apps.chromium(session, page.as_uri(), "Web form")
        for name, geometry in (("mousepad", (40, 40, 700, 500)), ("galculator", (760, 40, 0, 0)),
                               ("zenity", (760, 420, 0, 0)), ("pcmanfm", (60, 300, 640, 420)),
                               ("chromium", (300, 120, 500, 400))):
            x, y, width, height = geometry
            real_apps.xdotool(session, "windowmove", self.windows[name], str(x), str(y))
            if width:
                real_apps.xdotool(session, "windowsize", self.windows[name], str(width), str(height))
        time.sleep(2)
        self.origin = lambda app: real_apps.origin(session, self.windows[app])

    def raise_(self, app: str) -> None:
        from tests.support import real_apps

        real_apps.xdotool(self.session, "windowactivate", "--sync", self.windows[app])
        real_apps.xdotool(self.session, "mousemove", "640", "795")  # no tooltip from where the last group left it
        time.sleep(0.3)

    def at(self, app: str, dx: int, dy: int) -> tuple[int, int]:
        x, y = self.origin(app)
        return x + dx, y + dy

    def tk_at(self, name, dx=0, dy=0):
        x, y, width, height = self.tk[name]
        return round(x + width / 2 + dx), round(y + height / 2 + dy)

    def actions(self) -> list[tuple]:
        c = self.computer
        key = lambda *keys: lambda: c.keypress(list(keys))  # noqa: E731
        click = lambda app, dx, dy: lambda: c.click(self.at(app, dx, dy), "left", 1)  # noqa: E731
        # pcmanfm by keys: a file under the pointer shows a tooltip half a second later
        tk_click = lambda name, dx=0, dy=0: lambda: c.click(self.tk_at(name, dx, dy), "left", 1)  # noqa: E731
        return [
            ("form", "click Name field", True, tk_click("name_entry")),
            ("form", "type 'abc'", True, lambda: c.type_text("abc")),
            ("form", "key backspace", True, key("backspace")),
            ("form", "click Subscribe", True, tk_click("subscribe")),
            ("form", "click Email field", True, tk_click("email_entry")),
            ("form", "key end (empty field)", False, key("end")),
            ("form", "click Size (opens)", True, tk_click("size_combo")),
            ("form", "key escape (closes)", True, key("escape")),
            ("editor", "click editor text", True, tk_click("text", -150, -60)),
            ("editor", "key ctrl+a", True, key("ctrl", "a")),
            ("editor", "scroll down 5", True, lambda: c.scroll(self.tk_at("text"), "down", 5)),
            ("editor", "scroll up 5", True, lambda: c.scroll(self.tk_at("text"), "up", 5)),
            ("editor", "key shift (no effect)", False, key("shift")),
            ("mousepad", "mousepad: type 'hello '", True, lambda: c.type_text("hello ")),
            ("mousepad", "mousepad: ctrl+shift+s (Save As)", True, key("ctrl", "shift", "s")),
            ("mousepad", "mousepad: type a name", True, lambda: c.type_text(self.next_name())),
            ("mousepad", "mousepad: enter (saves)", True, key("enter")),
            ("mousepad", "mousepad: key shift (no effect)", False, key("shift")),
            ("galculator", "galculator: alt+v (menu)", True, key("alt", "v")),
            ("galculator", "galculator: down (item)", True, key("down")),
            ("galculator", "galculator: enter (Scientific)", True, key("enter")),
            ("galculator", "galculator: type '12+3='", True, lambda: c.type_text("12+3=")),
            ("galculator", "galculator: escape (clears)", True, key("escape")),
            ("galculator", "galculator: alt+v, enter (Basic)", True, lambda: (c.keypress(["alt", "v"]),
                                                                              time.sleep(0.3), c.keypress(["enter"]))),
            ("zenity", "zenity: click radio Banana", True, click("zenity", 25, 98)),
            ("zenity", "zenity: click radio Apple", True, click("zenity", 25, 75)),
            ("pcmanfm", "pcmanfm: key right (selects a file)", True, key("right")),
            ("pcmanfm", "pcmanfm: F2 (rename dialog)", True, key("f2")),
            ("pcmanfm", "pcmanfm: escape (closes)", True, key("escape")),
            ("pcmanfm", "pcmanfm: key left (the other file)", True, key("left")),
            ("chromium", "chromium: click Name field", True, click("chromium", 150, 88)),
            ("chromium", "chromium: type 'Ada'", True, lambda: c.type_text("Ada")),
            ("chromium", "chromium: ctrl+a, backspace", True, lambda: (c.keypress(["ctrl", "a"]),
                                                                       c.keypress(["backspace"]))),
            ("chromium", "chromium: click Newsletter", True, click("chromium", 30, 127)),
            ("chromium", "chromium: key shift (no effect)", False, key("shift")),
        ]

    def next_name(self) -> str:
        self.saves += 1
        return f"saved-{self.saves}.txt"


def measure(rounds: int) -> list[dict]:
    from agent.core.executors import PyAutoGUIComputer
    from agent.core.screen import Screen

    with XSession(1280, 800) as session, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(DISPLAY=session.display, XAUTHORITY=session.env["XAUTHORITY"])
        screen = Screen(session.display)
        computer = PyAutoGUIComputer(session.display, screen.capture().monitor)
        desk = Desk(session, computer, Path(tmp))
        paths = {"settle": lambda before: screen.settle(before),
                 "today": lambda before: screen.settle_by_pixels(before),
                 "floor": lambda before: first_change(screen, before)}
        actions = desk.actions()
        samples = []
        for round_ in range(rounds):
            for turn in range(len(PATHS)):
                path = PATHS[(round_ + turn) % len(PATHS)]
                app = None
                for owner, name, visible, act in actions:
                    if owner != app:
                        desk.raise_(owner)
                        app = owner
                    time.sleep(0.3)
                    before = screen.capture()
                    act()
                    acted = time.monotonic()
                    frame, settled = paths[path](before)
                    latency = frame.captured_at - acted
                    time.sleep(LATER)
                    later = screen.capture()
                    samples.append({"path": path, "action": name, "visible": visible, "ms": 1000 * latency,
                                    "settled": settled, "changed": not frame.same_as(before),
                                    "stale": stale(frame, later)})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # pyautogui binds one display per process
        print(json.dumps(measure(args.rounds)))
        return
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, "--child", "--rounds", str(args.rounds)],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"the measuring run failed: {out.stderr.strip().splitlines()[-1:]}")
    samples = json.loads(out.stdout.strip().splitlines()[-1])
    load = max(load, os.getloadavg()[0])
    report(samples, args.rounds, load)


def report(samples: list[dict], rounds: int, load: float) -> None:
    print(f"{rounds} rounds, paths in turn; load average up to {load:.2f}")
    print("latency from the action's end to the observation, medians in milliseconds; stale: observations "
          "that differ from a frame taken 1 s later by more than a caret")
    print(f"{'action':<38}{'settle':>8}{'today':>8}{'floor':>8}{'settle max':>12}{'stale':>7}{'stale today':>13}")
    by = {(s["path"], s["action"]): [] for s in samples}
    for s in samples:
        by[s["path"], s["action"]].append(s)
    for name in dict.fromkeys(s["action"] for s in samples):
        rows = {path: by[path, name] for path in PATHS}
        medians = {path: statistics.median(r["ms"] for r in rows[path]) for path in PATHS}
        floor = f"{medians['floor']:.0f}" if rows["settle"][0]["visible"] else "–"
        print(f"{name:<38}{medians['settle']:>8.0f}{medians['today']:>8.0f}{floor:>8}"
              f"{max(r['ms'] for r in rows['settle']):>12.0f}{count(rows['settle'], 'stale'):>7}"
              f"{count(rows['today'], 'stale'):>13}")
    figures = {path: summary([s for s in samples if s["path"] == path]) for path in PATHS}
    for path in ("settle", "today"):
        f = figures[path]
        print(f"{path}: visible effect: median {f['median']:.0f} ms, p90 {f['p90']:.0f} ms; none: median "
              f"{f['quiet']:.0f} ms; max {f['max']:.0f} ms; stale {f['stale']} of {f['n']} actions; "
              f"timed out {f['timeouts']}")
    floor = figures["floor"]
    print(f"floor (first changed frame): median {floor['median']:.0f} ms, p90 {floor['p90']:.0f} ms; "
          f"stale {floor['stale']} of {floor['n']}")
    settle, today = figures["settle"], figures["today"]
    print(f"settle_median_ms={settle['median']:.0f} settle_p90_ms={settle['p90']:.0f} "
          f"no_effect_median_ms={settle['quiet']:.0f} settle_max_ms={settle['max']:.0f} "
          f"stale={settle['stale']} actions={settle['n']} today_median_ms={today['median']:.0f} "
          f"today_no_effect_median_ms={today['quiet']:.0f} today_stale={today['stale']} "
          f"floor_median_ms={floor['median']:.0f} load_average={load:.2f}")


def summary(rows: list[dict]) -> dict:
    visible = [r["ms"] for r in rows if r["visible"]]
    return {"median": statistics.median(visible), "p90": statistics.quantiles(visible, n=10)[-1],
            "quiet": statistics.median(r["ms"] for r in rows if not r["visible"]), "max": max(r["ms"] for r in rows),
            "stale": sum(r["stale"] for r in rows), "n": len(rows), "timeouts": sum(not r["settled"] for r in rows)}


def count(rows: list[dict], field: str) -> str:
    return f"{sum(r[field] for r in rows)}/{len(rows)}"


if __name__ == "__main__":
    main()
