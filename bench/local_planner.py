"""Step latency of the embedded planner on simple and busy sandbox screens, against plain
full-frame OCR measured in the same run.

    python bench/local_planner.py

'simple' is one demo form; 'busy' is two forms and two editors full of text on 1280x800. Each
runs a multi-step instruction through the real loop; a step's latency is the planner's decide
time (OCR, rectangles, matching). Cold is the first step (nothing cached), warm the rest; 'warm
grounded' only the warm steps that located a target on screen (key presses need no OCR). The
ratio is full-frame OCR time over the median step.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.core.episode import EpisodeWriter, read_episode  # noqa: E402
from agent.core.executors import PyAutoGUIComputer  # noqa: E402
from agent.core.loop import Agent, Limits  # noqa: E402
from agent.core.screen import Screen  # noqa: E402
from agent.planners.embedded import LocalPlanner  # noqa: E402
from sandbox.session import XSession  # noqa: E402

INSTRUCTION = ('type "Ada Lovelace" into Name, type "ada@example.com" into Email, tick Subscribe, '
               'select Large from Size, select Uruguay from Country, click Submit')
LAYOUTS = {
    "simple": [("form", "700x560+40+30")],
    "busy": [("form", "640x520+0+0"), ("editor", "620x360+650+0"), ("editor", "620x330+650+420"),
             ("form", "600x250+20+540")],
}


def plain_ocr_seconds(frame, runs: int = 3) -> float:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    engine(frame.pixels[:, :, :3])  # load
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        engine(frame.pixels[:, :, :3])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(layout: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp, XSession(1280, 800) as session:
        os.environ["XAUTHORITY"] = session.env["XAUTHORITY"]
        apps = [session.launch(name, geometry=geometry) for name, geometry in LAYOUTS[layout]]
        for app in apps:
            app.wait_ready()
        screen = Screen(session.display)
        first, _ = screen.settle(screen.capture())
        plain = plain_ocr_seconds(first)
        computer = PyAutoGUIComputer(session.display, first.monitor)
        agent = Agent(INSTRUCTION, LocalPlanner(INSTRUCTION), computer, screen, EpisodeWriter(Path(tmp) / "run"),
                      limits=Limits(steps=60))
        status, message = agent.run()
        assert status == "done", message
        steps = read_episode(Path(tmp) / "run").steps[:-1]
    decide = [s["timings"]["model"] for s in steps]
    grounded = [s["timings"]["model"] for s in steps[1:] if s["screen"]]  # warm steps that found a target
    return {"steps": len(steps), "cold": decide[0], "warm": statistics.median(decide[1:]),
            "warm_grounded": statistics.median(grounded), "median": statistics.median(decide), "plain_ocr": plain}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--layout":  # one layout per process: pyautogui binds one display
        print(json.dumps(measure(sys.argv[2])))
        return
    results = {}
    for layout in LAYOUTS:
        out = subprocess.run([sys.executable, __file__, "--layout", layout], capture_output=True, text=True, check=True)
        results[layout] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'screen':<8}{'steps':>6}{'cold s':>9}{'warm s':>9}{'warm grounded s':>17}{'median s':>10}"
          f"{'full OCR s':>12}{'ratio':>8}")
    for layout, r in results.items():
        print(f"{layout:<8}{r['steps']:>6}{r['cold']:>9.3f}{r['warm']:>9.3f}{r['warm_grounded']:>17.3f}"
              f"{r['median']:>10.3f}{r['plain_ocr']:>12.3f}{r['plain_ocr'] / r['median']:>8.1f}x")
    print(" ".join(f"{layout}_{name}_s={value:.3f}" for layout, r in results.items()
                   for name, value in r.items() if name != "steps"))


if __name__ == "__main__":
    main()
