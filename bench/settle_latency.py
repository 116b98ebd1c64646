"""From the end of an action to the next observation, on the demo apps in Xvfb: Screen.settle
against the fixed 1 s and 2 s sleeps other agents use; and whether any observation came before
the screen showed the action's effect.

    python bench/settle_latency.py [--rounds 5]

Each round performs the same actions with pyautogui, each with an immediate visible effect
(focus, typing, a tick, a drop-down opening and closing, a selection, scrolling), and one with
none (shift). For each: latency from the action's return to settle's frame; `changed`: that frame
differs from the one before the action (the observation is not a stale one); `final`: it equals
a frame taken 1 s later, ignoring a blinking text cursor (the effect was complete, not half drawn).
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


def differs_beyond_cursor(a, b) -> bool:
    mask = (a.pixels[:, :, :3] != b.pixels[:, :, :3]).any(axis=2).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return any(stats[i, cv2.CC_STAT_WIDTH] > CURSOR_WIDTH for i in range(1, count))


def measure(rounds: int) -> list[dict]:
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
        actions = [
            ("click Name field", True, lambda: computer.click(at("name_entry"), "left", 1)),
            ("type 'abc'", True, lambda: computer.type_text("abc")),
            ("key backspace", True, lambda: computer.keypress(["backspace"])),
            ("click Subscribe", True, lambda: computer.click(at("subscribe"), "left", 1)),
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
        for _ in range(rounds):
            for name, visible, act in actions:
                time.sleep(0.3)
                before = screen.capture()
                act()
                acted = time.monotonic()
                frame, settled = screen.settle(before)
                latency = frame.captured_at - acted
                time.sleep(1.0)
                later = screen.capture()
                samples.append({"action": name, "visible": visible, "ms": 1000 * latency, "settled": settled,
                                "changed": differs_beyond_cursor(frame, before),
                                "final": not differs_beyond_cursor(frame, later)})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # pyautogui binds one display per process
        print(json.dumps(measure(args.rounds)))
        return
    out = subprocess.run([sys.executable, __file__, "--child", "--rounds", str(args.rounds)],
                         capture_output=True, text=True, check=True)
    samples = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{args.rounds} rounds; latency from the action's end to the observation, milliseconds")
    print(f"{'action':<24}{'median':>8}{'max':>8}{'changed':>9}{'final':>7}{'vs 1 s':>8}{'vs 2 s':>8}")
    for name in dict.fromkeys(s["action"] for s in samples):
        rows = [s for s in samples if s["action"] == name]
        median = statistics.median(r["ms"] for r in rows)
        print(f"{name:<24}{median:>8.0f}{max(r['ms'] for r in rows):>8.0f}"
              f"{sum(r['changed'] for r in rows):>6}/{len(rows)}{sum(r['final'] for r in rows):>4}/{len(rows)}"
              f"{1000 / median:>7.1f}x{2000 / median:>7.1f}x")
    visible = [s for s in samples if s["visible"]]
    latencies = [s["ms"] for s in visible]
    median, p90 = statistics.median(latencies), statistics.quantiles(latencies, n=10)[-1]
    stale = sum(not s["changed"] for s in visible)
    partial = sum(not s["final"] for s in visible)
    quiet = statistics.median(s["ms"] for s in samples if not s["visible"])
    print(f"actions with a visible effect: median {median:.0f} ms, p90 {p90:.0f} ms, "
          f"{1000 / median:.1f}x faster than a 1 s sleep and {2000 / median:.1f}x than 2 s; "
          f"observations before the change: {stale} of {len(visible)}; before it was complete: {partial}")
    print(f"settle_median_ms={median:.0f} settle_p90_ms={p90:.0f} vs_sleep_1s={1000 / median:.1f} "
          f"vs_sleep_2s={2000 / median:.1f} stale_observations={stale} incomplete_observations={partial} "
          f"visible_actions={len(visible)} no_effect_median_ms={quiet:.0f}")


if __name__ == "__main__":
    main()
