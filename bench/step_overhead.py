"""Per-step time spent outside the model, on a real Xvfb display with the demo form.

    python bench/step_overhead.py [--size 1366x768] [--steps 20] [--rounds 3]

Runs the real loop (mss capture, PNG encode, request build, the openai client against a
loopback endpoint that answers at once, reply parse, snap, pyautogui, settle) on three paths that
take turns, one run of `--steps` steps each per round: `snap` as `gui-agent run` does by default
(SnappingPlanner around GLMPlanner; every click names its element, as GLM-4.5V's do), `no-snap`
(`--no-snap`), and `floor`: no snap and a screen whose settle is one capture, without waiting,
the least a step can cost. Prints, per path, the median and 90th percentile of each phase from the
episode's own timings and of the step's time outside the model, and the timings' sum against the
step's wall time (from the grab of its screenshot to the grab of the next), so what the timings
miss shows.
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.core.episode import EpisodeWriter, read_episode  # noqa: E402
from agent.core.executors import PyAutoGUIComputer  # noqa: E402
from agent.core.loop import Agent, Limits  # noqa: E402
from agent.core.screen import Screen  # noqa: E402
from agent.planners.glm import GLMConfig, GLMPlanner  # noqa: E402
from agent.planners.snap import SnappingPlanner  # noqa: E402
from sandbox.session import XSession  # noqa: E402
from tests.support.endpoint import ScriptedEndpoint  # noqa: E402

PHASES = ("capture", "encode", "model", "snap", "act", "settle")
PATHS = ("snap", "no-snap", "floor")


class NoWait:
    """The screen, settled at once: the next screenshot is one capture, whatever the action did."""

    def __init__(self, screen: Screen):
        self.screen, self.display, self.monitor_index = screen, screen.display, screen.monitor_index

    def capture(self):
        return self.screen.capture()

    def settle(self, before, timeout: float = 3.0):
        return self.screen.capture(), True


def run(path: str, replies: list[str], screen: Screen, computer, out: Path) -> list[dict]:
    """One run on `path`; its steps but the first and the last (DONE(), which does nothing), each
    with its wall time: from the grab of its screenshot to the grab of the next, read off the frames."""
    walls, screenshot = [], [None]

    with ScriptedEndpoint(replies) as endpoint:
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, max_retries=0))
        agent = Agent("bench", SnappingPlanner(planner) if path == "snap" else planner, computer,
                      NoWait(screen) if path == "floor" else screen, EpisodeWriter(out),
                      limits=Limits(steps=len(replies)))

        def on_step(record):
            taken, after = screenshot[0], agent.frame
            if taken is not None and after is not taken:
                walls.append(after.captured_at - after.capture_seconds - (taken.captured_at - taken.capture_seconds))
            else:
                walls.append(None)
            screenshot[0] = after

        agent.on_step = on_step
        status, message = agent.run()
    assert status == "done", message
    steps = read_episode(out).steps
    for step, wall in zip(steps, walls):
        step["wall"] = wall
    return steps[1:-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    load = os.getloadavg()[0]
    steps: dict[str, list[dict]] = {path: [] for path in PATHS}
    with tempfile.TemporaryDirectory() as tmp, XSession(width, height) as session:
        os.environ["XAUTHORITY"] = session.env["XAUTHORITY"]
        app = session.launch("form", geometry="700x560+40+30")
        widgets = app.wait_ready()["widgets"]

        def click(name, element):
            x, y, w, h = widgets[name]
            point = f"[{round((x + w / 2) / width * 1000)},{round((y + h / 2) / height * 1000)}]"
            return f"left_click(start_box='{point}', element_info='{element}')"

        cycle = [click("name_entry", "Name input field"), "type(content='abc')",
                 click("email_entry", "Email input field"), "key(keys='ctrl+a')",
                 click("subscribe", "Subscribe checkbox")]
        replies = [cycle[i % len(cycle)] for i in range(args.steps)] + ["DONE()"]
        screen = Screen(session.display)
        computer = PyAutoGUIComputer(session.display, screen.capture().monitor)
        for round_ in range(args.rounds):
            for turn in range(len(PATHS)):
                path = PATHS[(round_ + turn) % len(PATHS)]
                steps[path] += run(path, replies, screen, computer, Path(tmp) / f"{path}-{round_}")
        load = max(load, os.getloadavg()[0])
    print(f"{args.rounds} rounds of {args.steps}-step runs on {width}x{height}, the paths in turn; "
          f"load average up to {load:.2f}")
    print("milliseconds per step, median / p90; 'model' is the loopback round trip; "
          "'outside' is the timings' sum but the model's, 'wall-model' the wall time's")
    print(f"{'phase':<30}" + "".join(f"{path:>18}" for path in PATHS))
    figures = {}
    for phase in PHASES + ("outside", "sum", "wall", "wall-model"):
        cells = []
        for path in PATHS:
            values = [1000 * value(step, phase) for step in steps[path]]
            median, p90 = statistics.median(values), statistics.quantiles(values, n=10)[-1]
            figures[path, phase] = median
            cells.append(f"{median:>10.1f} /{p90:>6.1f}")
        print(f"{phase:<30}" + "".join(cells))
    print("outside, by step (median)")
    for kind in dict.fromkeys(map(step_kind, steps["snap"])):
        medians = (statistics.median(1000 * value(s, "outside") for s in steps[path] if step_kind(s) == kind)
                   for path in PATHS)
        cells = "".join(f"{median:>18.1f}" for median in medians)
        print(f"  {kind:<28}{cells}")
    gaps = {path: sorted(abs(sum(s["timings"].values()) - s["wall"]) / s["wall"] for s in steps[path])
            for path in PATHS}
    print("timings' sum vs the step's wall time, gap median / worst: "
          + ", ".join(f"{path} {100 * statistics.median(gap):.1f} / {100 * gap[-1]:.1f} %"
                      for path, gap in gaps.items()))
    print(" ".join(f"{path.replace('-', '_')}_{phase.replace('-', '_')}_ms={figures[path, phase]:.1f}"
                   for path in PATHS for phase in ("outside", "wall-model", "snap", "settle", "encode"))
          + " " + " ".join(f"{path.replace('-', '_')}_sum_vs_wall_worst_gap_pct={100 * gap[-1]:.1f}"
                           for path, gap in gaps.items())
          + f" load_average={load:.2f}")


def step_kind(step: dict) -> str:
    element = step["action"].get("element_info")
    return f"click {element}" if element else step["call"]


def value(step: dict, phase: str) -> float:
    timings = step["timings"]
    if phase == "outside":
        return sum(seconds for name, seconds in timings.items() if name != "model")
    if phase == "sum":
        return sum(timings.values())
    if phase == "wall":
        return step["wall"]
    if phase == "wall-model":
        return step["wall"] - timings.get("model", 0.0)
    return timings.get(phase, 0.0)


if __name__ == "__main__":
    main()
