"""The code in README.md and docs/*.md runs as written: one test per block, named by file and line.

Every ```python block runs in a fresh interpreter, and every ```sh block in bash with the
installed ``metadb`` command first on PATH, each in a new empty working directory (so
``metadb.connect()`` makes its own ``metadb.sqlite`` there). A ```sh block may hold only
``metadb`` commands; anything else must be marked skip.

HTML comments just before a block (invisible on GitHub) adjust the run:

``<!-- doc-test: skip (reason) -->``
    The block is not run, for the reason given (it needs a server, a cluster, ml-metadata...).
``<!-- doc-test: replace "TEXT" "NEW" -->``
    Run the block with TEXT replaced by NEW. ``{database}`` in NEW is a fresh database, and the
    block then runs once on each of SQLite, PostgreSQL and MySQL (the test servers of
    tests/conftest.py), so that an example written for a server runs against the real thing.
    ``{database}?`` adds a query parameter to that URL (with ``&`` if it has a query already).
``<!-- doc-test: setup COMMAND -->``
    Run the shell COMMAND in the working directory first (e.g. create a migration).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, fresh_database

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = ("python", "sh")
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*doc-test:\s*(?P<what>skip|replace|setup)\b(?P<rest>.*?)\s*-->$")
_DATABASE = "{database}"


@dataclass
class Block:
    """One fenced code block and the doc-test markers just above it."""

    path: str
    line: int
    language: str
    code: str
    skip: str | None = None
    replacements: list[tuple[str, str]] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def per_database(self) -> bool:
        return any(_DATABASE in new for _, new in self.replacements)


def _read_marker(block: Block, text: str) -> None:
    match = _MARKER.match(text.strip())
    if match is None:
        raise ValueError(f"{block.name}: unreadable doc-test marker {text!r}")
    rest = match["rest"].strip()
    if match["what"] == "skip":
        reason = re.fullmatch(r"\((.+)\)", rest)
        block.skip = reason[1] if reason else "marked skip"
    elif match["what"] == "setup":
        block.setup.append(rest)
    else:
        old_new = shlex.split(rest)
        if len(old_new) != 2:
            raise ValueError(f'{block.name}: replace takes "TEXT" "NEW", not {rest!r}')
        block.replacements.append((old_new[0], old_new[1]))


def collect_blocks(path: Path) -> list[Block]:
    """The ```python and ```sh blocks of one markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        if fence[1] in RUNNABLE:
            block = Block(
                str(path.relative_to(ROOT)), i + 1, fence[1], "\n".join(lines[i + 1 : end]) + "\n"
            )
            above = i
            while above > 0 and (not lines[above - 1].strip() or "doc-test:" in lines[above - 1]):
                above -= 1
            for marker in lines[above:i]:  # in the document's order: replacements chain
                if marker.strip():
                    _read_marker(block, marker)
            blocks.append(block)
        i = end + 1
    return blocks


def _params() -> list[object]:
    params: list[object] = []
    for document in DOCUMENTS:
        for block in collect_blocks(document):
            if block.per_database and block.skip is None:
                params += [pytest.param(block, b, id=f"{block.name}-{b}") for b in BACKENDS]
            else:
                params.append(pytest.param(block, None, id=block.name))
    return params


def _expand(new: str, database: str) -> str:
    joined = new.replace(_DATABASE + "?", database + ("&" if "?" in database else "?"))
    return joined.replace(_DATABASE, database)


def _commands(code: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [c for c in (line.split(" #")[0].strip() for line in joined.splitlines()) if c]


def _run(argv: list[str], cwd: Path, name: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("METADB_DATABASE_URL", None)  # the default database is the directory's own
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{name} failed (exit {done.returncode})\n--- stdout\n{done.stdout}\n"
        f"--- stderr\n{done.stderr}"
    )


@pytest.mark.parametrize(("block", "backend"), _params())
def test_the_documented_code_runs(block: Block, backend: str | None, tmp_path: Path) -> None:
    if block.skip is not None:
        pytest.skip(block.skip)
    if block.language == "sh":
        others = [c for c in _commands(block.code) if not c.startswith("metadb ")]
        assert others == [], (
            f"{block.name}: only metadb commands run here; mark the block "
            f"<!-- doc-test: skip (reason) --> or drop these: {others}"
        )
    workdir = tmp_path / "work"
    workdir.mkdir()
    with contextlib.ExitStack() as stack:
        database = None
        if backend is not None:
            (tmp_path / "db").mkdir()
            database = stack.enter_context(
                contextlib.contextmanager(fresh_database)(backend, tmp_path / "db")
            )
        code = block.code
        for old, new in block.replacements:
            assert old in code, f"{block.name}: the replaced text {old!r} is not in the block"
            code = code.replace(old, _expand(new, database or ""))
        for command in block.setup:
            _run(["bash", "-euo", "pipefail", "-c", command], workdir, f"{block.name} setup")
        if block.language == "python":
            script = workdir / "doc_block.py"
            script.write_text(code, encoding="utf-8")
            _run([sys.executable, script.name], workdir, block.name)
        else:
            _run(["bash", "-euo", "pipefail", "-c", code], workdir, block.name)


def test_every_document_has_blocks_and_each_skip_says_why() -> None:
    blocks = [b for d in DOCUMENTS for b in collect_blocks(d)]

    assert len(blocks) > 10
    assert [b.name for b in blocks if b.skip == "marked skip"] == []
