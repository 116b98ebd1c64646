"""Per-step time outside the model, phase by phase, at 1280x800 and 1920x1080 on Xvfb; and the agent's
capture path (mss, then agent.core.png's banded PNG encoder) against the capture paths other agents
use, measured in the same run, taking turns.

    python bench/capture_paths.py [--runs 40]

The screen shows the demo form and editor. Phases (medians and p90 over the runs, milliseconds):
capture (Screen.capture), encode (Frame.png() full size and png(0.5) for the history), request
build (prompt.build_content with four history images), reply parse (reply.parse_reply), mapping
(Geometry.model_to_screen), act (a pyautogui move). The paths compared all end with PNG bytes
ready to send: ours (Screen.capture then Frame.png()); the paths a peer could take: mss with
cv2.imencode (the fastest obvious one), pyautogui.screenshot() then PNG (it runs scrot -z to a
temporary file and loads it; XDG_SESSION_TYPE=x11 as on a desktop), scrot to a file then load it,
PIL.ImageGrab.grab() then PNG; and the floor, the mss grab alone (no encoder can take less).
pyautogui binds one display per process, so each resolution runs in a process of its own.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.session import XSession  # noqa: E402

SIZES = [(1280, 800), (1920, 1080)]
PEER_PATHS = ["mss + cv2.imencode", "pyautogui.screenshot() + PNG", "scrot to a file, then load",
              "PIL.ImageGrab.grab() + PNG"]
FLOOR = "floor: mss grab alone"
REPLY = ("The Name field is empty; click it first. <|begin_of_box|>left_click(start_box='[412,203]', "
         "element_info='Name field')<|end_of_box|>\nMemory:\n[{\"step\": \"name\"}]")


def timed(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - started))
    return times


def measure(width: int, height: int, runs: int) -> dict:
    """Runs in its own process: start a display, put apps on it, time every phase and path."""
    from agent.core.executors import PyAutoGUIComputer
    from agent.core.screen import Frame, Screen
    from agent.planners.prompt import Turn, build_content
    from agent.planners.reply import parse_reply

    with XSession(width, height) as session, tempfile.TemporaryDirectory() as tmp:
        # pyscreeze takes its scrot path only when it knows it is on X11, as a desktop session says
        os.environ.update(DISPLAY=session.display, XAUTHORITY=session.env["XAUTHORITY"], XDG_SESSION_TYPE="x11")
        os.chdir(tmp)  # pyautogui.screenshot() leaves scrot's files in the working folder
        session.launch("form", geometry="700x560+40+30").wait_ready()
        session.launch("editor", "--dir", tmp, geometry="560x420+700+60").wait_ready()
        screen = Screen(session.display)
        frame = screen.capture()
        computer = PyAutoGUIComputer(session.display, frame.monitor)
        import pyautogui
        from PIL import Image, ImageGrab

        def fresh() -> Frame:  # a frame with an empty PNG cache, so every run encodes
            return Frame(frame.pixels, frame.monitor)

        turns = [Turn("Click the field.", "left_click(start_box='[412,203]')", frame.png(0.5)) for _ in range(4)]
        points = iter([(100 + i % 300, 100 + i % 200) for i in range(runs)])
        phases = {
            "capture": timed(screen.capture, runs),
            "encode": timed(lambda: fresh().png(), runs),
            "encode_half": timed(lambda: fresh().png(0.5), runs),
            "request": timed(lambda: build_content("Fill in the form", turns, "[]", frame.png()), runs),
            "parse": timed(lambda: parse_reply(REPLY), runs),
            "map": timed(lambda: frame.geometry.model_to_screen((412, 203)), runs),
            "act": timed(lambda: computer.move(next(points)), runs),
        }

        def png(image) -> bytes:
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            return buffer.getvalue()

        def scrot_then_load() -> bytes:
            subprocess.run(["scrot", "-o", "shot.png"], check=True, env=session.env)
            data = Path("shot.png").read_bytes()
            Image.open(io.BytesIO(data)).load()
            return data

        paths = {
            "ours: mss + banded PNG": lambda: Frame.png(screen.capture()),
            "mss + cv2.imencode": lambda: cv2.imencode(".png", cv2.cvtColor(screen.capture().pixels,
                                                                            cv2.COLOR_BGRA2BGR))[1],
            "pyautogui.screenshot() + PNG": lambda: png(pyautogui.screenshot()),
            "scrot to a file, then load": scrot_then_load,
            "PIL.ImageGrab.grab() + PNG": lambda: png(ImageGrab.grab(xdisplay=session.display)),
            FLOOR: screen.capture,
        }
        times = {name: [] for name in paths}
        for _ in range(runs):  # the paths take turns, so a slow spell of the machine hits them all alike
            for name, path in paths.items():
                times[name] += timed(path, 1)
        png_bytes = len(frame.png())
    return {"phases": phases, "paths": times, "png_bytes": png_bytes}


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--size", help=argparse.SUPPRESS)  # one resolution, in a child process
    args = parser.parse_args()
    if args.size:
        print(json.dumps(measure(*(int(v) for v in args.size.split("x")), args.runs)))
        return
    figures = {}
    for width, height in SIZES:
        size = f"{width}x{height}"
        out = subprocess.run([sys.executable, __file__, "--size", size, "--runs", str(args.runs)],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        phases, paths = result["phases"], result["paths"]
        print(f"\n{size}: per-step phases outside the model ({args.runs} runs; PNG {result['png_bytes'] // 1024} KiB)")
        print(f"{'phase':<18}{'median ms':>11}{'p90 ms':>10}")
        for phase, values in phases.items():
            print(f"{phase:<18}{statistics.median(values):>11.2f}{p90(values):>10.2f}")
        total = sum(statistics.median(values) for values in phases.values())
        print(f"{'sum':<18}{total:>11.2f}")
        print(f"\n{size}: capture paths, each ending in PNG bytes")
        ours = statistics.median(paths["ours: mss + banded PNG"])
        others = {name: statistics.median(v) for name, v in paths.items() if name in PEER_PATHS}
        fastest, floor = min(others.values()), statistics.median(paths[FLOOR])
        print(f"{'path':<32}{'median ms':>11}{'p90 ms':>10}{'vs ours':>9}")
        for name, values in paths.items():
            median = statistics.median(values)
            print(f"{name:<32}{median:>11.2f}{p90(values):>10.2f}{median / ours:>8.1f}x")
        print(f"ours is {fastest / ours:.1f}x faster than the fastest peer path "
              f"({min(others, key=others.get)}, {fastest:.1f} ms), and {ours - floor:.1f} ms over the floor "
              f"(the grab alone, {floor:.1f} ms)")
        figures |= {f"capture_{size}_ms": statistics.median(phases["capture"]),
                    f"encode_{size}_ms": statistics.median(phases["encode"]),
                    f"step_overhead_{size}_ms": total, f"ours_path_{size}_ms": ours,
                    f"fastest_peer_{size}_ms": fastest, f"speedup_{size}": fastest / ours,
                    f"floor_{size}_ms": floor}
    print()
    print(" ".join(f"{name}={value:.2f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
