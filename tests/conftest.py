import shutil
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sandbox.session import XSession

from scenarios import HEIGHT, WIDTH

# Started as a background job (`make test &` in a script), the tests inherit SIGINT ignored, and so would
# every run they start: the tests of Ctrl+C would then see runs that Ctrl+C cannot stop.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def x_session():
    """A fresh Xvfb display with openbox, torn down after the test."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is not installed: run .ci/run, or apt-get install xvfb openbox xdotool xclip x11-utils")
    with XSession(WIDTH, HEIGHT) as session:
        yield session

