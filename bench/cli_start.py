"""How long `gui-agent --help` takes, against the floor (an interpreter that does nothing) and the
fastest help a peer command line could give (argparse alone), the three taking turns.

    python bench/cli_start.py [--runs 20]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = {
    "floor: python -c pass": [sys.executable, "-c", "pass"],
    "peer: argparse --help alone": [sys.executable, "-c", "import argparse; argparse.ArgumentParser().parse_args()",
                                    "--help"],
    "gui-agent --help": [sys.executable, "-m", "agent", "--help"],
    "gui-agent run --help": [sys.executable, "-m", "agent", "run", "--help"],
    "import agent.api (what help cost before)": [sys.executable, "-c", "import agent.api"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    for _ in range(runs):
        for name, command in PATHS.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    print(f"{'path':<45} {'median ms':>10} {'min ms':>8}")
    for name, seconds in times.items():
        print(f"{name:<45} {statistics.median(seconds) * 1000:>10.1f} {min(seconds) * 1000:>8.1f}")
    help_ms = statistics.median(times["gui-agent --help"]) * 1000
    floor_ms = statistics.median(times["floor: python -c pass"]) * 1000
    print(f"help_ms={help_ms:.1f} floor_ms={floor_ms:.1f} over_floor_ms={help_ms - floor_ms:.1f}")


if __name__ == "__main__":
    main()
