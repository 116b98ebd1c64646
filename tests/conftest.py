import os
import shutil
import signal

import pytest

from sandbox.session import XSession
from tests.support.scenarios import HEIGHT, WIDTH

# Started as a background job (`make test &` in a script), the tests inherit SIGINT ignored, and so would
# every run they start: the tests of Ctrl+C would then see runs that Ctrl+C cannot stop.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

X_FIXTURES = {"x_session", "programs"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by mark
def pytest_collection_modifyitems(items):
    """A test that uses `x_session` or `programs` (tests/front/test_eval.py: what an evaluation starts, Xvfb
    first), itself or through another fixture, starts an X server; the others that do are marked where written."""
    for item in items:
        if X_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xvfb)


@pytest.fixture(scope="session")
def refusing_xvfb(tmp_path_factory) -> str:
    """A folder whose Xvfb refuses to start, saying why."""
    folder = tmp_path_factory.mktemp("refusing-xvfb")
    (folder / "Xvfb").write_text('#!/bin/sh\n'
                                 'echo "this test starts an X server: mark it xvfb (tests/conftest.py)" >&2\n'
                                 "exit 1\n")
    (folder / "Xvfb").chmod(0o755)
    return str(folder)


@pytest.fixture(autouse=True)
def xvfb_only_when_marked(request, monkeypatch, refusing_xvfb):
    """A test not marked xvfb finds the Xvfb that refuses first on its PATH (and so do the commands it runs),
    so a test that starts an X server unmarked fails, and `make test-fast` starts none."""
    if not request.node.get_closest_marker("xvfb"):
        monkeypatch.setenv("PATH", refusing_xvfb + os.pathsep + os.environ["PATH"])


@pytest.fixture
def x_session():
    """A fresh Xvfb display with openbox, torn down after the test."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is not installed: run .ci/run, or apt-get install xvfb openbox xdotool xclip x11-utils")
    with XSession(WIDTH, HEIGHT) as session:
        yield session

