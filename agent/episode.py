"""Episodes on disk: OUT/episode.jsonl (header, one line per step, end) and one PNG per step.

Lines are appended and flushed as they happen, so a killed run keeps every finished step.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import EpisodeError

EPISODE_FILE = "episode.jsonl"
FORMAT_VERSION = 1


def new_run_dir(root: Path = Path("runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{stamp}-{suffix}"
    return path


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class EpisodeWriter:
    def __init__(self, out: Path, resume: bool = False):
        """A new episode in `out`, or with `resume`, more lines appended to the one there."""
        self.out = Path(out)
        file = self.out / EPISODE_FILE
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            if file.exists() and not resume:
                raise EpisodeError(f"{file} already exists; choose a new --out folder")
            if resume:
                _drop_torn_tail(file)
            self._file = open(file, "a", encoding="utf-8")
        except OSError as error:
            raise EpisodeError(f"cannot write the episode in {self.out}: {error.strerror}") from None
        self.started = time.monotonic()

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def header(self, **fields) -> None:
        self.write({"kind": "header", "format": FORMAT_VERSION, "started": now_iso(), **fields})

    def screenshot(self, index: int, png: bytes) -> str:
        name = f"step-{index:03d}.png"
        (self.out / name).write_bytes(png)
        return name

    def step(self, record: dict) -> None:
        self.write({"kind": "step", **record})

    def end(self, status: str, message: str = "", **fields) -> None:
        seconds = round(time.monotonic() - self.started, 3)
        self.write({"kind": "end", "status": status, "message": message, "seconds": seconds,
                    "ended": now_iso(), **fields})
        self._file.close()


@dataclass
class Episode:
    path: Path
    header: dict
    steps: list[dict] = field(default_factory=list)
    end: dict | None = None
    damaged_lines: int = 0

    @property
    def cut_short(self) -> bool:
        return self.end is None


def _drop_torn_tail(file: Path) -> None:
    """Cut a last line that a kill left half written, so appended lines start clean."""
    data = file.read_bytes()
    if data and not data.endswith(b"\n"):
        tail = data[data.rfind(b"\n") + 1:]
        try:
            json.loads(tail)
            file.write_bytes(data + b"\n")  # whole, only its newline was lost
        except ValueError:
            file.write_bytes(data[: len(data) - len(tail)])


def read_episode(path: Path) -> Episode:
    """Reads OUT or OUT/episode.jsonl; a run cut short (no end line, a torn last line) still reads."""
    path = Path(path)
    file = path / EPISODE_FILE if path.is_dir() else path
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EpisodeError(f"no episode at {file}; give a run folder written by `gui-agent run`") from None
    except (OSError, UnicodeDecodeError) as error:
        raise EpisodeError(f"cannot read {file}: {error}") from None
    records, damaged = [], 0
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "kind" not in record:
                raise ValueError
        except ValueError:
            if number == len(lines):  # torn by a kill mid-write
                damaged += 1
                continue
            raise EpisodeError(f"{file} line {number} is not an episode record; the file is corrupt") from None
        records.append(record)
    if not records or records[0]["kind"] != "header":
        raise EpisodeError(f"{file} does not start with a header line; it is not an episode")
    if records[0].get("format", 0) > FORMAT_VERSION:
        raise EpisodeError(f"{file} has episode format {records[0]['format']}; upgrade gui-agent to read it")
    episode = Episode(file.parent, records[0], damaged_lines=damaged)
    for record in records[1:]:
        if record["kind"] == "step":
            episode.steps.append(record)
        elif record["kind"] == "end":
            episode.end = record
    return episode
