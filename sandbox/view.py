"""The live view: a display served to a browser by x11vnc and noVNC (websockify), on 127.0.0.1 only.

Every local user can reach loopback ports, so the VNC server asks for a password made for this view
alone. It reaches x11vnc in a file only we can read, which x11vnc deletes once read (`-passwd` would
show it in `ps` until x11vnc blanks it), and the browser in the URL's fragment, which the browser
never sends to a server, so it is in no log either. The browser's port is bound here and handed to
websockify (`--inetd`), so the URL never names a port another server answers on.
"""

import errno
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from pathlib import Path
from typing import cast

from sandbox.session import SandboxError, _die_with_parent, _end_processes, _require

NOVNC = Path("/usr/share/novnc")
PASSWORD_LENGTH = 8  # VNC authentication uses the first 8 characters and ignores the rest
TIMESTAMP = re.compile(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d ")  # x11vnc's, before each line it logs


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_socket(port: int) -> socket.socket:
    """A socket of ours listening on 127.0.0.1:`port` (0: a free port); SandboxError when another has it."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as websockify does: a port in TIME_WAIT is free
    try:
        server.bind(("127.0.0.1", port))
        server.listen(100)
    except OSError as error:
        server.close()
        if error.errno == errno.EADDRINUSE:
            raise SandboxError(f"port {port} in use on 127.0.0.1 by another program; choose another port, "
                               "or 0 for a free one") from None
        raise SandboxError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None
    return server


class LiveView:
    """`with LiveView(session.display, session.xauthority) as view: print(f"view: {view.url}")`"""

    def __init__(self, display: str, xauthority: Path | str | None = None, port: int = 0):
        self.display = display
        self.xauthority = xauthority
        self.port = port
        """The browser's port on 127.0.0.1; 0 picks a free one at start."""
        self.vnc_port = 0
        self._password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(PASSWORD_LENGTH))
        self._processes: list[subprocess.Popen] = []
        self._tmp: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/vnc.html?autoconnect=1&resize=scale#password={self._password}"

    def start(self) -> "LiveView":
        for program in ("x11vnc", "websockify"):
            _require(program, program)  # each Debian package is named after its program
        if not (NOVNC / "vnc.html").is_file():
            raise SandboxError(f"noVNC is not installed ({NOVNC}/vnc.html is missing); install it with: "
                               "apt-get install novnc")
        browser = listening_socket(self.port)
        self.port = browser.getsockname()[1]
        self.vnc_port = free_port()
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="gui-agent-view-"))
            password_file = self._tmp / "vnc-password"
            with open(os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
                file.write(self._password + "\n")
            # SIGKILL when we die: x11vnc's SIGTERM handler hung, and x11vnc stayed, in 3 of 30 such deaths
            x11vnc = self._spawn(["x11vnc", "-display", self.display, "-rfbport", str(self.vnc_port), "-localhost",
                                  "-no6", "-forever", "-shared", "-norc", "-passwdfile", f"rm:{password_file}"],
                                 death_signal=signal.SIGKILL)
            # x11vnc prints PORT=N once it listens
            self._wait_until(x11vnc, self.vnc_port, lambda: f"PORT={self.vnc_port}" in self._log("x11vnc"))
            websockify = self._spawn(["websockify", "--inetd", "--web", str(NOVNC), f"127.0.0.1:{self.vnc_port}"],
                                     stdin=browser.fileno())  # --inetd: it serves the listening socket on its stdin
            self._wait_until(websockify, self.port, self._serves_the_page)
        except BaseException:
            self.stop()
            raise
        finally:
            browser.close()  # websockify holds it now
        return self

    def _spawn(self, command: list[str], death_signal: int = signal.SIGTERM,
               stdin: int = subprocess.DEVNULL) -> subprocess.Popen:
        env = {**os.environ, "DISPLAY": self.display}
        if self.xauthority:
            env["XAUTHORITY"] = str(self.xauthority)
        with open(self._folder / f"{command[0]}.log", "wb") as log:
            process = subprocess.Popen(command, env=env, cwd=self._tmp, stdin=stdin, stdout=log,
                                       stderr=log, start_new_session=True,
                                       preexec_fn=lambda: _die_with_parent(death_signal))
        self._processes.append(process)
        return process

    def _wait_until(self, process: subprocess.Popen, port: int, ready, timeout: float = 15.0) -> None:
        name = cast(list[str], process.args)[0]  # started by _spawn, with a list
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None and "Address already in use" in self._log(name):
                raise SandboxError(f"port {port} in use on 127.0.0.1: {name} could not listen there; start the "
                                   "view again (it picks a free port)")
            if process.poll() is not None:
                raise SandboxError(f"{name} (for 127.0.0.1:{port}) exited with code {process.returncode}: "
                                   f"{self._telling_line(name)}")
            if time.monotonic() > deadline:
                raise SandboxError(f"{name} did not listen on 127.0.0.1:{port} within {timeout} s: "
                                   f"{self._telling_line(name)}")
            time.sleep(0.05)

    def _serves_the_page(self) -> bool:
        # http.client rather than urllib, which would send a loopback request to a proxy set in the environment
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/vnc.html")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    @property
    def _folder(self) -> Path:
        """The view's temporary folder, made when it starts."""
        if self._tmp is None:
            raise SandboxError("the live view is not started")
        return self._tmp

    def _log(self, name: str) -> str:
        return (self._folder / f"{name}.log").read_text(errors="replace")

    def _telling_line(self, name: str) -> str:
        """The first line of the log that says what went wrong (x11vnc's logs hold pages of tips, whose lines
        speak of "painting errors" too)."""
        lines = [TIMESTAMP.sub("", line).strip() for line in self._log(name).splitlines()]
        lines = [line for line in lines if line]
        telling = [line for line in lines if line.lower().startswith(("error", "fatal"))
                   or any(word in line.lower() for word in ("failed", "unable"))]
        if telling:
            return telling[0]
        return lines[-1] if lines else "(no output)"

    def stop(self) -> None:
        # websockify first, then x11vnc: x11vnc's SIGTERM handler hung in 4 of 40 stops (so it took
        # the SIGKILL 3 s later) when its clients were cut at the same moment, in none of 120 after them
        for process in self._processes[::-1]:
            _end_processes([process])
        self._processes.clear()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "LiveView":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
