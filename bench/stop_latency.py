"""How fast the stop keys end a run that is typing a long text.

    python bench/stop_latency.py [--runs 5]

For each run: the agent types 3000 characters into the demo form; once typing is under way the
stop chord is pressed with xdotool. Printed: the time from the chord to the last character the
form received, to the episode's end line (status interrupted), and to the process exit, medians
over the runs.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.session import XSession  # noqa: E402
from tests.support.endpoint import ScriptedEndpoint  # noqa: E402
from tests.support.scenarios import Script  # noqa: E402


def one_run(session: XSession, out: Path) -> tuple[float, float]:
    app = session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    replies = [script.pointer("left_click", "name_entry", "Focus."), "type(content='" + "x" * 3000 + "')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "type", "--base-url", endpoint.url,
                                  "--display", session.display, "--out", str(out)], env=session.env,
                                 stdout=subprocess.DEVNULL, cwd=ROOT)
        app.wait_until(lambda r: len(r["state"]["name"]) > 100, 30, "typing to start")
        pressed = time.monotonic()
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=session.env, check=True)
        length, last_change = len(app.record()["state"]["name"]), time.monotonic()
        ended = exited = None
        while time.monotonic() - pressed < 5:
            now_length = len(app.record()["state"]["name"])
            if now_length != length:
                length, last_change = now_length, time.monotonic()
            if ended is None and '"kind": "end"' in (out / "episode.jsonl").read_text():
                ended = time.monotonic()
            if exited is None and agent.poll() is not None:
                exited = time.monotonic()
            if exited and time.monotonic() - last_change > 0.5:
                break
            time.sleep(0.002)
    assert agent.returncode == 130, agent.returncode
    app.process.terminate()
    return last_change - pressed, ended - pressed, exited - pressed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp, XSession(1280, 800) as session:
        for run in range(args.runs):
            results.append(one_run(session, Path(tmp) / f"run{run}"))
            last_char, ended, exited = (round(t * 1000) for t in results[-1])
            print(f"run {run + 1}: after the chord, last character {last_char} ms, end line {ended} ms, "
                  f"exit {exited} ms")
    last_char, ended, exited = (statistics.median(column) * 1000 for column in zip(*results))
    print(f"stop_to_last_char_ms={last_char:.0f} stop_to_end_line_ms={ended:.0f} stop_to_exit_ms={exited:.0f}")


if __name__ == "__main__":
    main()
