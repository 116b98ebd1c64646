"""What the tests share: fakes, the loopback endpoint, real apps, the scenarios, and where the data lies."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
EPISODES = TESTS / "episodes"  # recorded by support/make_episodes.py
FRAMES = TESTS / "frames"
