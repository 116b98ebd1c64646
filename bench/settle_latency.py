"""From the end of an action to the next observation, on the demo apps in Xvfb: Screen.settle next
to the settle it replaced and to the floor (the first frame that shows any change), the paths
taking turns in one run; and whether any observation came before the screen showed the action's
whole effect.

    python bench/settle_latency.py [--rounds 3] [--settle POLL,CALM,QUIET]

Each round performs the same actions with pyautogui once per path, the paths in turn (a different
one first each round): actions with an immediate visible effect (focus, typing, a tick, a
drop-down opening and closing, a selection, scrolling) and two with none (shift; end in an empty
field). For each: latency from the action's return to the observation; `changed`: that frame
differs from the one before the action (not a stale observation); `final`: it equals a frame taken
0.5 s later, ignoring a blinking text cursor (the effect was drawn whole, not half).
Paths: `settle` is Screen.settle (with --settle, other poll/calm/quiet seconds); `before` is the
settle it replaced (a 30 ms poll, two equal frames, a 250 ms quiet period, no pings); `floor`
captures back to back until the first frame that differs, the soonest any observation can show
an effect (often before it is whole; none for actions with no effect).
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

CURSOR_WIDTH = 3  # a blinking insert cursor is a component at most this wide
LATER = 0.5  # seconds: the frame an observation is compared with to tell whether the effect was whole
PATHS = ("settle", "before", "floor")


def differs_beyond_cursor(a, b) -> bool:
    mask = (a.pixels[:, :, :3] != b.pixels[:, :, :3]).any(axis=2).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return any(stats[i, cv2.CC_STAT_WIDTH] > CURSOR_WIDTH for i in range(1, count))


def settle_before(screen, before, timeout=3.0, poll=0.03, quiet=0.25):
    """Screen.settle as it was until 2026-11-30: the first frame equal to the one 30 ms before it,
    once the screen changed from `before` or after `quiet` seconds."""
    start = time.monotonic()
    previous = before
    while True:
        frame = screen.capture()
        elapsed = frame.captured_at - start
        if frame.same_as(previous) and (elapsed >= quiet or not frame.same_as(before)):
            return frame, True
        if elapsed >= timeout:
            return frame, False
        previous = frame
        time.sleep(poll)


def first_change(screen, before, timeout=LATER):
    """The first frame that differs from `before`, capturing back to back."""
    start = time.monotonic()
    while True:
        frame = screen.capture()
        if not frame.same_as(before) or frame.captured_at - start >= timeout:
            return frame, not frame.same_as(before)


def measure(rounds: int, settle_options: dict) -> list[dict]:
    from agent.core.executors import PyAutoGUIComputer
    from agent.core.screen import Screen

    with XSession(1280, 800) as session, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(DISPLAY=session.display, XAUTHORITY=session.env["XAUTHORITY"])
        form = session.launch("form", geometry="620x560+20+30")
        form.wait_ready()
        editor = session.launch("editor", "--dir", tmp, geometry="600x420+660+60")
        editor.wait_ready()
        w = form.record()["widgets"] | {"text": editor.record()["widgets"]["text"]}

        def at(name, dx=0, dy=0):
            x, y, width, height = w[name]
            return round(x + width / 2 + dx), round(y + height / 2 + dy)

        screen = Screen(session.display)
        computer = PyAutoGUIComputer(session.display, screen.capture().monitor)
        paths = {"settle": lambda before: screen.settle(before, **settle_options),
                 "before": lambda before: settle_before(screen, before),
                 "floor": lambda before: first_change(screen, before)}
        actions = [
            ("click Name field", True, lambda: computer.click(at("name_entry"), "left", 1)),
            ("type 'abc'", True, lambda: computer.type_text("abc")),
            ("key backspace", True, lambda: computer.keypress(["backspace"])),
            ("click Subscribe", True, lambda: computer.click(at("subscribe"), "left", 1)),
            ("click Email field", True, lambda: computer.click(at("email_entry"), "left", 1)),
            ("key end (empty field)", False, lambda: computer.keypress(["end"])),
            ("click Size (opens)", True, lambda: computer.click(at("size_combo"), "left", 1)),
            ("key escape (closes)", True, lambda: computer.keypress(["escape"])),
            ("click editor text", True, lambda: computer.click(at("text", -150, -60), "left", 1)),
            ("key ctrl+a", True, lambda: computer.keypress(["ctrl", "a"])),
            ("key ctrl+home", True, lambda: computer.keypress(["ctrl", "home"])),
            ("scroll down 5", True, lambda: computer.scroll(at("text"), "down", 5)),
            ("scroll up 5", True, lambda: computer.scroll(at("text"), "up", 5)),
            ("key shift (no effect)", False, lambda: computer.keypress(["shift"])),
        ]
        samples = []
        for round_ in range(rounds):
            for turn in range(len(PATHS)):
                path = PATHS[(round_ + turn) % len(PATHS)]
                for name, visible, act in actions:
                    time.sleep(0.3)
                    before = screen.capture()
                    act()
                    acted = time.monotonic()
                    frame, settled = paths[path](before)
                    latency = frame.captured_at - acted
                    time.sleep(LATER)
                    later = screen.capture()
                    samples.append({"path": path, "action": name, "visible": visible, "ms": 1000 * latency,
                                    "settled": settled, "changed": differs_beyond_cursor(frame, before),
                                    "final": not differs_beyond_cursor(frame, later)})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", help="POLL,CALM,QUIET seconds for Screen.settle instead of its defaults")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    options = dict(zip(("poll", "calm", "quiet"), map(float, args.settle.split(",")))) if args.settle else {}
    if args.child:  # pyautogui binds one display per process
        print(json.dumps(measure(args.rounds, options)))
        return
    load = os.getloadavg()[0]
    command = [sys.executable, __file__, "--child", "--rounds", str(args.rounds)]
    out = subprocess.run(command + (["--settle", args.settle] if args.settle else []),
                         capture_output=True, text=True, check=True)
    samples = json.loads(out.stdout.strip().splitlines()[-1])
    load = max(load, os.getloadavg()[0])
    print(f"{args.rounds} rounds, paths in turn; settle {options or 'defaults'}; load average up to {load:.2f}")
    print("latency from the action's end to the observation, medians in milliseconds; "
          "changed / final: of the observations, not stale / drawn whole")
    print(f"{'action':<24}{'settle':>8}{'before':>8}{'floor':>8}{'changed':>9}{'final':>7}{'final before':>14}"
          f"{'vs before':>11}")
    by = {(s["path"], s["action"]): [] for s in samples}
    for s in samples:
        by[s["path"], s["action"]].append(s)
    for name in dict.fromkeys(s["action"] for s in samples):
        rows = {path: by[path, name] for path in PATHS}
        medians = {path: statistics.median(r["ms"] for r in rows[path]) for path in PATHS}
        floor = f"{medians['floor']:.0f}" if rows["settle"][0]["visible"] else "–"
        print(f"{name:<24}{medians['settle']:>8.0f}{medians['before']:>8.0f}{floor:>8}"
              f"{count(rows['settle'], 'changed'):>9}{count(rows['settle'], 'final'):>7}"
              f"{count(rows['before'], 'final'):>14}{medians['before'] / medians['settle']:>10.1f}x")
    figures = {}
    for path in PATHS:
        visible = [s for s in samples if s["path"] == path and s["visible"]]
        latencies = [s["ms"] for s in visible]
        figures[path] = {"median": statistics.median(latencies), "p90": statistics.quantiles(latencies, n=10)[-1],
                         "stale": sum(not s["changed"] for s in visible),
                         "incomplete": sum(not s["final"] for s in visible), "n": len(visible),
                         "quiet": statistics.median(s["ms"] for s in samples if s["path"] == path and not s["visible"])}
    for path in ("settle", "before"):
        f = figures[path]
        print(f"{path}: actions with a visible effect: median {f['median']:.0f} ms, p90 {f['p90']:.0f} ms; "
              f"with none: median {f['quiet']:.0f} ms; observations before the change: {f['stale']} of {f['n']}, "
              f"before it was whole: {f['incomplete']}")
    settle, before, floor = figures["settle"], figures["before"], figures["floor"]
    print(f"floor (first changed frame): median {floor['median']:.0f} ms, p90 {floor['p90']:.0f} ms; "
          f"drawn whole in {floor['n'] - floor['incomplete']} of {floor['n']}")
    print(f"settle_median_ms={settle['median']:.0f} settle_p90_ms={settle['p90']:.0f} "
          f"no_effect_median_ms={settle['quiet']:.0f} stale_observations={settle['stale']} "
          f"incomplete_observations={settle['incomplete']} visible_actions={settle['n']} "
          f"before_median_ms={before['median']:.0f} before_no_effect_median_ms={before['quiet']:.0f} "
          f"before_incomplete={before['incomplete']} floor_median_ms={floor['median']:.0f} "
          f"vs_before={before['median'] / settle['median']:.1f} "
          f"no_effect_vs_before={before['quiet'] / settle['quiet']:.1f} "
          f"load_average={load:.2f}")


def count(rows: list[dict], field: str) -> str:
    return f"{sum(r[field] for r in rows)}/{len(rows)}"


if __name__ == "__main__":
    main()
