"""Reading a file someone named (on the command line, in a config): every failure an InputError naming it.

A missing file, a directory, an unreadable, empty or binary one are mistakes of whoever gave the path,
so each is one sentence with the path and the kind of file that was expected, never an OSError or
UnicodeDecodeError from deep inside a loader.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from exchange.errors import InputError

__all__ = ["foreign_entry", "read_input", "read_json_lines", "read_text_input", "read_yaml_input"]


def read_input(path: Path, what: str) -> bytes:
    """The bytes of `path`, which should be `what` ("trust anchor", "hub config"); empty counts as wrong."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not {_a(what)}", document=str(path)) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror or exc}", document=str(path)) from None
    if not data.strip():
        raise InputError(f"{path}: is empty; {_a(what)} was expected", document=str(path))
    return data


def _a(what: str) -> str:
    """`what` with its article: "an XML document", "a trust anchor"."""
    return f"{'an' if what[:1] in 'aeiouAEIOUX' else 'a'} {what}"


def read_text_input(path: Path, what: str) -> str:
    """`read_input` as UTF-8 text (YAML files); a binary file is named as such."""
    data = read_input(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: is not {_a(what)}: not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}; a binary file?)",
            document=str(path),
        ) from None


def read_yaml_input(path: Path, what: str) -> Any:
    """`read_text_input` parsed as YAML (safe loader); a syntax error is named with its line and column."""
    text = read_text_input(path, what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}: is not {_a(what)}: not YAML ({problem}{where})", document=str(path)) from None


def read_json_lines(path: Path, what: str) -> list[tuple[int, dict[str, Any]]]:
    """Each line of a JSON Lines file (a run's events.jsonl) as an object, with its line number; InputError names
    the file and the line that is not UTF-8 text, not JSON or not an object.

    Lines end at a newline only: an entry's text may hold any other line break (a note's U+2028), at which
    `str.splitlines` would cut the entry in two. A last line with no newline after it that does not decode is an
    entry its writer has not finished (a run still going, or killed mid-write): after at least one entry it is left
    out, not refused, so what the run did write can be read; the caller tells from the entries whether it ended."""
    entries = []
    lines = read_input(path, what).split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError too
            if number == len(lines) and entries:
                break
            raise _undecodable(path, number, line, exc) from None
        if not isinstance(entry, dict):
            raise InputError(f"{path}:{number}: an entry is a JSON object", document=str(path))
        entries.append((number, entry))
    return entries


def _undecodable(path: Path, number: int, line: bytes, exc: ValueError) -> InputError:
    """Why line `number` of the JSON Lines file `path` is no entry."""
    if isinstance(exc, UnicodeDecodeError):
        why = f"not UTF-8 text (byte {exc.start + 1} of the line is 0x{line[exc.start]:02x})"
    else:
        why = f"not a JSON entry ({exc})"
    return InputError(f"{path}:{number}: {why}", document=str(path))


def foreign_entry(directory: Path, own: re.Pattern[str]) -> Path | None:
    """The first entry of `directory` whose name `own` does not match: what emptying it for a command's output
    would destroy that the command did not write (None when there is none, or no such directory)."""
    if not directory.is_dir():
        return None
    return next((entry for entry in sorted(directory.iterdir()) if not own.fullmatch(entry.name)), None)
