"""Per-step time spent outside the model, on a real Xvfb display with the demo form.

    python bench/step_overhead.py [--size 1366x768] [--steps 40]

Runs the real loop (mss capture, PNG encode, request build, the openai client against a
loopback endpoint that answers at once, reply parse, pyautogui, settle) and prints the median
and 90th percentile of each phase from the episode's own timings.
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from agent.core.episode import EpisodeWriter, read_episode  # noqa: E402
from agent.core.executors import PyAutoGUIComputer  # noqa: E402
from agent.core.loop import Agent, Limits  # noqa: E402
from agent.core.screen import Screen  # noqa: E402
from agent.planners.glm import GLMConfig, GLMPlanner  # noqa: E402
from endpoint import ScriptedEndpoint  # noqa: E402
from sandbox.session import XSession  # noqa: E402

PHASES = ("capture", "encode", "model", "act", "settle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp, XSession(width, height) as session:
        os.environ["XAUTHORITY"] = session.env["XAUTHORITY"]
        app = session.launch("form", geometry="700x560+40+30")
        widgets = app.wait_ready()["widgets"]

        def click(name):
            x, y, w, h = widgets[name]
            return f"left_click(start_box='[{round((x + w / 2) / width * 1000)},{round((y + h / 2) / height * 1000)}]')"

        cycle = [click("name_entry"), "type(content='abc')", click("email_entry"), "key(keys='ctrl+a')",
                 click("subscribe")]
        replies = [cycle[i % len(cycle)] for i in range(args.steps)] + ["DONE()"]
        with ScriptedEndpoint(replies) as endpoint:
            screen = Screen(session.display)
            computer = PyAutoGUIComputer(session.display, screen.capture().monitor)
            planner = GLMPlanner(GLMConfig(base_url=endpoint.url, max_retries=0))
            agent = Agent("bench", planner, computer, screen, EpisodeWriter(Path(tmp) / "run"),
                          limits=Limits(steps=args.steps + 1))
            status, message = agent.run()
        assert status == "done", message
        steps = read_episode(Path(tmp) / "run").steps[:-1]
    print(f"{len(steps)} steps on {width}x{height} (medians and p90, milliseconds; 'model' is the loopback round trip)")
    print(f"{'phase':<10}{'median':>10}{'p90':>10}")
    figures = {}
    for phase in PHASES + ("outside_model",):
        values = [1000 * (sum(s["timings"][p] for p in PHASES if p != "model") if phase == "outside_model"
                          else s["timings"][phase]) for s in steps]
        median, p90 = statistics.median(values), statistics.quantiles(values, n=10)[-1]
        figures[phase] = median
        print(f"{phase:<10}{median:>10.1f}{p90:>10.1f}")
    print(" ".join(f"{name}_ms={value:.1f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
