"""The embedded planner's first action, later steps and peak memory on simple and busy sandbox
screens, next to a peer tool (full-frame rapidocr) and the floor, measured in one run.

    python bench/local_planner.py [--rounds 3]

Each round, for every screen, runs the demo task (the Makefile's DEMO_TASK) as a user does
(`python -m agent run --model local` in the sandbox); then, on that run's first screenshot:
- peer: what a tool that reads the whole screen with rapidocr as shipped does for its first action
  (`RapidOCR()(image)`: load the models, detect, classify and recognise every line), and for each
  step after (another full read);
- floor: the least a first action grounded by OCR costs: load the models, detect the band of rows
  holding the target line ('Name', located beforehand), recognise that line;
- detect all: load the models and detect every line, recognising none (what needing every line's
  box, as a full read does, costs before any recognition).
Each runs in a process of its own, one after another (the order rotates every round); peak RSS is
that process's own (getrusage of the child: the agent, not the bench; Linux counts into it what
the bench holds when it starts the child, so the bench itself loads no OCR). 'first action' is the
planner's decision time for step 1, loading its models included; 'warm' the median of the later
steps, 'warm grounded' of those that located a target on screen. Figures are medians over the
rounds (min-max beside them). 'simple' is one demo form on 1280x800; 'busy' two forms and two
editors on 1280x800; 'busy 1080p' two forms and five editors on 1920x1080.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TASK = ('type "Ada Lovelace" into Name, then type "ada@example.com" into Email, then tick "Subscribe", '
        'then select "Uruguay" from Country, then select "Large" from Size, then click "Submit"')  # DEMO_TASK
FIRST_TARGET = "Name"
SCREENS = {
    "simple": ((1280, 800), [("form", "700x560+40+30")]),
    "busy": ((1280, 800), [("form", "640x520+0+0"), ("editor", "620x360+650+0"), ("editor", "620x330+650+420"),
                           ("form", "600x250+20+540")]),
    "busy 1080p": ((1920, 1080), [("form", "640x540+0+0"), ("form", "640x500+0+580"),
                                  *[("editor", f"256x1040+{640 + 256 * i}+0") for i in range(5)]]),
}


def waited(command: list[str], env: dict | None = None) -> tuple[str, int]:
    """Runs a command; its stdout and its peak RSS in MB (its own, from wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode not in (0, 1):
            raise RuntimeError(f"{command[:4]} exited {process.returncode}: {err.read()[-2000:]}")
        return out.read(), usage.ru_maxrss // 1024


def planner_run(screen: str, shot: Path) -> dict:
    """The demo task on this screen by `gui-agent run --model local`; saves its first screenshot."""
    from agent.core.episode import read_episode
    from sandbox.session import XSession

    (width, height), apps = SCREENS[screen]
    with tempfile.TemporaryDirectory() as tmp, XSession(width, height) as session:
        launched = [session.launch(name, geometry=geometry) for name, geometry in apps]
        for app in launched:
            app.wait_ready()
        time.sleep(0.5)  # let the windows finish drawing
        output, peak = waited([sys.executable, "-m", "agent", "run", "--model", "local", "--display", session.display,
                               "--out", f"{tmp}/run", "--no-report", "--stop-keys", "none", TASK], env=session.env)
        episode = read_episode(Path(tmp) / "run")
        assert episode.end["status"] == "done", output
        submits = [e["values"] for app in launched if app.name == "form" for e in app.record()["events"]
                   if e["event"] == "submit"]
        assert submits == [{"name": "Ada Lovelace", "email": "ada@example.com", "subscribe": True,
                            "country": "Uruguay", "size": "Large", "volume": 50}], submits
        shot.write_bytes((Path(tmp) / "run" / episode.steps[0]["screenshot"]).read_bytes())
    steps = [s for s in episode.steps if s.get("call") != "DONE()"]
    decide = [s["timings"]["model"] for s in steps]
    grounded = [s["timings"]["model"] for s in steps[1:] if s.get("screen")]
    actions = sum(1 + len(s.get("then", [])) for s in steps)
    return {"first": decide[0], "warm": statistics.median(decide[1:]), "warm_grounded": statistics.median(grounded),
            "steps": len(steps), "actions": actions, "peak_mb": peak}


def peer(shot: str) -> dict:
    import cv2
    from rapidocr_onnxruntime import RapidOCR

    image = cv2.imread(shot)
    started = time.perf_counter()
    engine = RapidOCR()
    found, _ = engine(image)
    first = time.perf_counter() - started
    started = time.perf_counter()
    engine(image)
    return {"first": first, "warm": time.perf_counter() - started, "lines": len(found or [])}


def floor(shot: str, target: str) -> dict:
    import cv2

    from agent.core.ocr import OCR, centre_in

    image = cv2.imread(shot)
    box = tuple(int(v) for v in target.split(","))
    started = time.perf_counter()
    lines = OCR().lines(image)
    lines.detect_band(next(band for band in lines.bands_left() if centre_in(box, band)))
    text = lines.read([max(lines.boxes, key=lambda b: overlap(b, box))])
    return {"first": time.perf_counter() - started, "text": text[0].text if text else ""}


def detect_all(shot: str) -> dict:
    import cv2

    from agent.core.ocr import OCR

    image = cv2.imread(shot)
    started = time.perf_counter()
    lines = OCR().lines(image)
    lines.detect_all()
    return {"first": time.perf_counter() - started, "lines": len(lines.boxes)}


def overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def target_line(shot: str) -> dict:
    """The box of the line the demo task's first clause names, as a full read finds it (untimed)."""
    import cv2

    from agent.core.ocr import OCR
    from agent.planners import grounding as g

    box = g.find_text(OCR().read(cv2.imread(shot)), FIRST_TARGET)[0].text.box
    return {"box": ",".join(map(str, box))}


def child(kind: str, *args: str) -> dict:
    output, peak = waited([sys.executable, __file__, f"--{kind}", *args])
    return json.loads(output.strip().splitlines()[-1]) | {"peak_mb": peak}


def spread(values: list[float], digits: int) -> str:
    middle = f"{statistics.median(values):.{digits}f}"
    return middle if len(values) == 1 else f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"


KINDS = ["planner", "peer", "floor", "detect-all"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", metavar="SHOT")
    parser.add_argument("--floor", nargs=2, metavar=("SHOT", "BOX"))
    parser.add_argument("--detect-all", metavar="SHOT")
    parser.add_argument("--target-line", metavar="SHOT")
    args = parser.parse_args()
    for kind, run in (("peer", peer), ("floor", floor), ("detect_all", detect_all), ("target_line", target_line)):
        if getattr(args, kind):
            print(json.dumps(run(*getattr(args, kind)) if kind == "floor" else run(getattr(args, kind))))
            return
    load_before, started = os.getloadavg(), time.monotonic()
    runs = {screen: {kind: [] for kind in KINDS} for screen in SCREENS}
    with tempfile.TemporaryDirectory() as tmp:
        targets = {}
        for round_ in range(args.rounds):
            for screen in SCREENS:
                shot = Path(tmp) / f"{screen.replace(' ', '-')}.png"
                if screen not in targets:  # the screen to read, and where the target is on it
                    runs[screen]["planner"].append(planner_run(screen, shot))
                    targets[screen] = child("target-line", str(shot))["box"]  # in a child: this process stays small
                    order = KINDS[1:]
                else:
                    order = KINDS[round_ % 4:] + KINDS[:round_ % 4]
                for kind in order:
                    if kind == "planner":
                        runs[screen]["planner"].append(planner_run(screen, Path(tmp) / "unused.png"))
                    else:
                        extra = [targets[screen]] if kind == "floor" else []
                        runs[screen][kind].append(child(kind, str(shot), *extra))
    load_after = os.getloadavg()

    def column(screen: str, kind: str, field: str) -> list[float]:
        return [r[field] for r in runs[screen][kind]]

    print(f"{args.rounds} rounds, {time.monotonic() - started:.0f} s; load average before "
          f"{' '.join(f'{x:.2f}' for x in load_before)}, after {' '.join(f'{x:.2f}' for x in load_after)}")
    print("\nfirst action (s) and peak RSS (MB), medians (min-max)")
    print(f"{'screen':<12}{'lines':>6}  " + "".join(f"{kind + ' s':<21}" for kind in KINDS)
          + "".join(f"{kind + ' MB':<16}" for kind in KINDS))
    for screen in SCREENS:
        print(f"{screen:<12}{int(statistics.median(column(screen, 'detect-all', 'lines'))):>6}  "
              + "".join(f"{spread(column(screen, kind, 'first'), 2):<21}" for kind in KINDS)
              + "".join(f"{spread(column(screen, kind, 'peak_mb'), 0):<16}" for kind in KINDS))
    print("\nlater steps (s), medians (min-max); the peer reads the whole screen every step")
    print(f"{'screen':<12}{'steps':>6}{'actions':>8}  {'planner warm':<21}{'warm grounded':<21}{'peer full read':<21}")
    for screen in SCREENS:
        print(f"{screen:<12}{int(statistics.median(column(screen, 'planner', 'steps'))):>6}"
              f"{int(statistics.median(column(screen, 'planner', 'actions'))):>8}  "
              f"{spread(column(screen, 'planner', 'warm'), 3):<21}"
              f"{spread(column(screen, 'planner', 'warm_grounded'), 3):<21}"
              f"{spread(column(screen, 'peer', 'warm'), 3):<21}")


if __name__ == "__main__":
    main()
