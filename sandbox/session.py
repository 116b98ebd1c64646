"""A headless X session: Xvfb, openbox and demo apps, torn down with no process left behind."""

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agent.core.errors import AgentError
from sandbox.apps.look import FONTCONFIG, missing_fonts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APPS = ("form", "editor")


class SandboxError(AgentError):
    pass


def _require(program: str, package: str) -> str:
    path = shutil.which(program)
    if not path:
        raise SandboxError(f"{program} is not installed; install it with: apt-get install {package}")
    return path


def write_cookie(path: Path) -> None:
    """An Xauthority file with one random MIT cookie for this host and any display number
    (an empty number matches every display), so only this session's clients can connect."""
    def field(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    family_local = 256
    entry = (struct.pack(">H", family_local) + field(socket.gethostname().encode()) + field(b"")
             + field(b"MIT-MAGIC-COOKIE-1") + field(secrets.token_bytes(16)))
    path.write_bytes(entry)
    path.chmod(0o600)


PR_SET_PDEATHSIG = 1


def _die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Runs in each child before exec: the kernel sends it SIGTERM (or signum) when the sandbox process dies,
    however it dies (SIGKILL included), so no Xvfb, openbox or app outlives it. And no signal stays
    blocked: a child inherits its parent thread's mask, and a Ray actor's threads block SIGINT, which
    made ctrl+c in a sandbox's xterm do nothing."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _end_processes(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to each process group in the order given, then SIGKILL to any still there after 3 s."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


@dataclass
class App:
    """A demo app running in the session; it rewrites its record file after every change."""

    name: str
    process: subprocess.Popen
    record_path: Path

    def record(self) -> dict:
        try:
            return json.loads(self.record_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def wait_until(self, check, timeout: float = 10.0, what: str = "the app's record to match") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            record = self.record()
            if record and check(record):
                return record
            if self.process.poll() is not None:
                raise SandboxError(f"{self.name} exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                raise SandboxError(f"timed out after {timeout} s waiting for {what}; last record: {record}")
            time.sleep(0.05)

    def wait_ready(self, timeout: float = 15.0) -> dict:
        return self.wait_until(lambda r: r.get("ready"), timeout, f"{self.name} to be ready")


class XSession:
    def __init__(self, width: int = 1280, height: int = 800, window_manager: bool = True, dpi: int = 96):
        self.width, self.height, self.window_manager, self.dpi = width, height, window_manager, dpi
        self.display = ""  # ":N" once started
        self.env: dict[str, str] = {}
        self._processes: list[subprocess.Popen] = []
        self._tmp = Path(tempfile.mkdtemp(prefix="gui-agent-x-"))
        self.xauthority = self._tmp / "Xauthority"
        self.files = self._tmp / "files"
        """The apps' working folder: where the editor's Save As writes, never the caller's folder."""

    def start(self) -> "XSession":
        xvfb = _require("Xvfb", "xvfb")
        xauthority = self.xauthority
        write_cookie(xauthority)
        self.files.mkdir()
        read_fd, write_fd = os.pipe()
        server = subprocess.Popen(
            [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x24",
             "-dpi", str(self.dpi), "-nolisten", "tcp", "-noreset", "-auth", str(xauthority)],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=open(self._tmp / "xvfb.log", "wb"),
            start_new_session=True, preexec_fn=_die_with_parent)
        os.close(write_fd)
        self._processes.append(server)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            said = (self._tmp / "xvfb.log").read_text(errors="replace")[-300:].strip()  # before stop() removes it
            self.stop()
            raise SandboxError(f"Xvfb did not start: {' '.join(said.split()) or 'it said nothing'}")
        self.display = f":{number}"
        pythonpath = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        self.env = {**os.environ, "DISPLAY": self.display, "XAUTHORITY": str(xauthority), "PYTHONPATH": pythonpath}
        if self.window_manager:
            # Its title bars are in the demo apps' screenshots: same fonts as the apps.
            openbox_env = self.env | {"FONTCONFIG_FILE": str(FONTCONFIG)}
            self.spawn([_require("openbox", "openbox"), "--sm-disable"], env=openbox_env)
            self._wait_for_window_manager()
        return self

    def _wait_for_window_manager(self, timeout: float = 10.0) -> None:
        xprop = _require("xprop", "x11-utils")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run([xprop, "-root", "_NET_SUPPORTING_WM_CHECK"], env=self.env,
                                 capture_output=True, text=True).stdout
            if "window id" in out:
                return
            time.sleep(0.05)
        raise SandboxError(f"openbox did not start on {self.display} within {timeout} s")

    def spawn(self, command: list[str], **kwargs) -> subprocess.Popen:
        kwargs.setdefault("cwd", self.files)
        kwargs.setdefault("env", self.env)
        process = subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        self._processes.append(process)
        return process

    def launch(self, app: str, *args: str, geometry: str | None = None) -> App:
        if app not in APPS:
            raise SandboxError(f"unknown demo app {app!r}; choose from {', '.join(APPS)}")
        if error := missing_fonts():
            raise SandboxError(error)
        record = self._tmp / f"{app}-{len(self._processes)}.json"
        command = [sys.executable, "-m", f"sandbox.apps.{app}", "--record", str(record), *args]
        if geometry:
            command += ["--geometry", geometry]
        process = self.spawn(command)
        return App(app, process, record)

    def stop(self) -> None:
        _end_processes(self._processes[::-1])  # apps first, the X server last
        self._processes.clear()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "XSession":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
