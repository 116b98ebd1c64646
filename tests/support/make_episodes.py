"""Regenerate the recorded episodes under tests/episodes/ by running each scenario for real.

    python -m tests.support.make_episodes [NAME ...]

Each scenario runs `gui-agent run` in a fresh Xvfb against the scripted loopback endpoint; the
episode the agent writes is kept as it is, beside `outcome.json` (the app-level effects the
replay tests must reproduce); the run's report.html is left out.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

from sandbox.session import XSession
from tests.support import EPISODES
from tests.support.scenarios import HEIGHT, SCENARIOS, WIDTH, run_scenario


def regenerate(name: str) -> None:
    target = EPISODES / name
    with tempfile.TemporaryDirectory() as tmp, XSession(WIDTH, HEIGHT) as session:
        run = run_scenario(session, name, Path(tmp) / "run", Path(tmp) / "work")
        if run.result.returncode != 0 or run.endpoint.errors:
            raise SystemExit(f"{name}: the run failed ({run.result.returncode}): {run.endpoint.errors}\n"
                             f"{run.result.stdout}{run.result.stderr}")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(tmp) / "run", target, ignore=shutil.ignore_patterns("report.html", "report-thumbs"))
    (target / "outcome.json").write_text(json.dumps(run.outcome, ensure_ascii=False, indent=1) + "\n")
    print(f"{name}: {target} ({len(list(target.glob('*.png')))} screenshots) -> {run.outcome}")


if __name__ == "__main__":
    for scenario in sys.argv[1:] or SCENARIOS:
        regenerate(scenario)
