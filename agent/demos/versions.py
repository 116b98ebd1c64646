"""Versions of a demonstration or a skill. A replay that GLM-4.5V repaired (agent.demos.repair) and
that ended done writes the steps it repaired back into the folder as a new version: the folder's
episode.jsonl becomes version N+1 (its header says "version"), the version before it is kept beside it
as episode.vN.jsonl, and the files a repaired step now names (its screenshot, its target's crop) are
new files, so every version still reads and replays as it was. `diff` tells a person what changed.

A repaired step takes the replay's screenshot of that step, the point the model found (and a drag's
end, moved with it), and its target as the replay described it there (crop, text, window offset);
its element_info becomes that text. A skill's parameter values in them become {name} again. The
step says what it was in "repaired".
"""

import json
import re
from pathlib import Path

from agent.core import actions as a
from agent.core.defaults import Outcome, PlannerKind
from agent.core.episode import EPISODE_FILE, MAX_VERSION, Episode, read_episode, read_image, replace_file
from agent.core.errors import AgentError, EpisodeError

SKILL_FILE = "skill.json"
SCREEN_FIELDS = ("left", "top", "width", "height", "scale", "image_width", "image_height")


def version_file(version: int) -> str:
    return f"episode.v{version}.jsonl"


def version_of(episode: Episode) -> int:
    version = episode.header.get("version", 1)
    return version if isinstance(version, int) and version >= 1 else 1


def repaired_steps(replay: Episode) -> dict[int, dict]:
    """The replay's steps whose target the model found, by the recorded step they replayed."""
    return {step["replays"]: step for step in replay.steps
            if (step.get("grounding") or {}).get("method") == "model" and isinstance(step.get("replays"), int)
            and step.get("outcome") == Outcome.OK}


def keep_repairs(recorded: Episode, replay_dir: Path) -> str:
    """After a replay that ended done: what became of its repairs, in one line ("" if there were none)."""
    replay = read_episode(replay_dir)
    repaired = repaired_steps(replay)
    if not repaired:
        return ""
    model = next(iter(repaired.values()))["repair"].get("model", "the model")
    steps = f"step{'s' if len(repaired) > 1 else ''} {', '.join(map(str, sorted(repaired)))} repaired by {model}"
    if recorded.header.get("planner") != PlannerKind.DEMONSTRATION and not (recorded.path / SKILL_FILE).is_file():
        return (f"{steps}, in this replay only: {recorded.path} is an agent's run, not a demonstration or a skill "
                "(`gui-agent skills add` makes it one)")
    if recorded.file != EPISODE_FILE:
        return f"{steps}, in this replay only: it replayed {recorded.file}, not the current version"
    try:
        version = write_version(recorded, replay, repaired)
    except (AgentError, OSError) as error:
        return f"{steps}; no new version written: {error}"
    name = recorded.path.name if (recorded.path / SKILL_FILE).is_file() else str(recorded.path)
    return (f"{steps}: version {version} of {recorded.path} written, version {version - 1} kept as "
            f"{version_file(version - 1)}; review it with `gui-agent skills diff {name}`")


def write_version(recorded: Episode, replay: Episode, repaired: dict[int, dict]) -> int:
    folder = recorded.path
    was, now = recorded.header.get("screen") or {}, replay.header.get("screen") or {}
    if any(was.get(k) != now.get(k) for k in SCREEN_FIELDS):
        raise AgentError(f"the replay's screen is {now.get('width')}x{now.get('height')}, the recording's "
                         f"{was.get('width')}x{was.get('height')}: its screenshots would not fit the episode")
    current = folder / EPISODE_FILE
    before = current.read_bytes()
    try:
        header = json.loads(before.split(b"\n", 1)[0])
    except ValueError:
        header = None
    if header != recorded.header:
        raise AgentError(f"{current} changed during the replay")
    version = version_of(recorded) + 1
    if version > MAX_VERSION:
        raise AgentError(f"{current} is version {version - 1}; gui-agent keeps at most {MAX_VERSION}")
    kept = folder / version_file(version - 1)
    if kept.exists():
        raise AgentError(f"{kept} exists already")
    params = (replay.header.get("settings") or {}).get("params") or {}
    lines = []
    for line in before.decode("utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a torn last line, which read_episode skips: kept as it is
            record = None
        if not isinstance(record, dict):
            lines.append(line)
            continue
        if record.get("kind") == "header":
            record["version"] = version
        elif record.get("kind") == "step" and record.get("index") in repaired:
            record = repaired_step(record, repaired[record["index"]], replay, folder, version, params)
        lines.append(json.dumps(record, ensure_ascii=False))
    replace_file(kept, before)
    try:
        replace_file(current, ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError:
        kept.unlink(missing_ok=True)  # else the next repair would find it and stop
        raise
    return version


def repaired_step(step: dict, replayed: dict, replay: Episode, folder: Path, version: int,
                  params: dict[str, str]) -> dict:
    repair = replayed["repair"]
    name, index = repair["name"], step["index"]
    screenshot = f"step-{index:03d}-v{version}.png"
    crop = f"target-{index:03d}-{name}-v{version}.png"
    replace_file(folder / screenshot, read_image(replay.path, replayed["screenshot"]))
    replace_file(folder / crop, read_image(replay.path, repair["target"]["crop"]))
    target = repair["target"] | {"crop": crop, "text": placeholders(repair["target"]["text"], params)}
    fields = dict(replayed["action"])
    if "element_info" in fields and target["text"]:
        fields["element_info"] = target["text"]
    action = a.ACTION.validate_python(fields)
    old_target = (step.get("target") or {}).get(name) or {}
    return step | {
        "screenshot": screenshot, "action": action.model_dump(), "call": action.call(), "screen": replayed["screen"],
        "target": {**(step.get("target") or {}), name: target},
        "repaired": {"version": version, "by": repair.get("model"), "replay": str(replay.path),
                     "was": {"call": step["call"], "screen": step["screen"], "screenshot": step.get("screenshot"),
                             "text": old_target.get("text", ""), "window": old_target.get("window")}},
    }


def placeholders(text: str, params: dict[str, str]) -> str:
    """Each parameter's value in `text` becomes {name}: longest value first ("Ada Lovelace" before
    "Ada"), in one pass, so a placeholder just written is never replaced again."""
    names = {value: name for name, value in sorted(params.items(), key=lambda item: -len(item[1])) if value}
    if not names:
        return text
    return re.sub("|".join(map(re.escape, names)), lambda match: "{" + names[match.group()] + "}", text)


def versions(folder: Path) -> list[int]:
    """The versions kept in a folder, oldest first, the current one last."""
    current = version_of(read_episode(folder))
    return [v for v in range(1, current) if (Path(folder) / version_file(v)).is_file()] + [current]


def diff(folder: Path, old: int | None = None) -> list[str]:
    """What changed from version `old` (default: the one before the current) to the current one,
    step by step, as lines for a person."""
    folder = Path(folder)
    new = read_episode(folder)
    current = version_of(new)
    old = current - 1 if old is None else old
    if current == 1:
        return [f"{folder} has one version; nothing to compare"]
    if old == current:
        return [f"version {old} is the current one; nothing to compare"]
    try:
        before = read_episode(folder / version_file(old))
    except EpisodeError:
        raise AgentError(f"{folder} keeps no version {old}; it has {', '.join(map(str, versions(folder)))}") from None
    lines = [f"{folder}: version {current} against version {old}"]
    old_steps = {s.get("index"): s for s in before.steps}
    unchanged = []
    for step in new.steps:
        was = old_steps.get(step.get("index"))
        if was == step:
            unchanged.append(step["index"])
            continue
        lines += step_diff(was or {}, step)
    if unchanged:
        lines.append(f"unchanged: step{'s' if len(unchanged) > 1 else ''} {', '.join(map(str, unchanged))}")
    return lines


def offset_of(target: dict) -> tuple:
    offset = (target.get("window") or {}).get("offset")
    return tuple(offset) if isinstance(offset, list) else ()


def step_diff(was: dict, now: dict) -> list[str]:
    repaired = now.get("repaired")
    if not isinstance(repaired, dict):
        repaired = {}
    how = f" (repaired by {repaired.get('by')} in the replay {repaired.get('replay')})" if repaired.get("by") else ""
    lines = [f"step {now.get('index')}{how}:", f"  - {was.get('call', '(none)')}", f"  + {now.get('call')}"]
    for name, target in (now.get("target") or {}).items():
        before = (was.get("target") or {}).get(name) or {}
        if before.get("text") != target.get("text"):
            lines.append(f"  text: {before.get('text', '')!r} -> {target.get('text', '')!r}")
        where = ((target.get("window") or {}).get("name"))
        offsets = [offset_of(t) for t in (before, target)]
        if where and offsets[0] != offsets[1]:
            lines.append(f"  in window {where!r} at {offsets[0] or '?'} -> {offsets[1]}")
        if before.get("crop") != target.get("crop"):
            lines.append(f"  crop: {before.get('crop')} -> {target.get('crop')}")
    for name, point in (now.get("screen") or {}).items():
        old_point = (was.get("screen") or {}).get(name)
        if old_point != point:
            lines.append(f"  {name} on the screen: {tuple(old_point) if old_point else '?'} -> {tuple(point)}")
    if was.get("screenshot") != now.get("screenshot"):
        lines.append(f"  screenshot: {was.get('screenshot')} -> {now.get('screenshot')}")
    return lines
