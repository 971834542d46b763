"""Every Python code block of the README runs as written, in a directory holding the files it
names (a small demo operation written as conversations.csv and messages.parquet)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from supportkpi import demo

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks():
    blocks = python_blocks()
    assert blocks and all("supportkpi" in b for b in blocks)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("readme")
    data = demo.generate(days=45, daily_volume=25, seed=3)  # June and the first half of July
    data.write(directory)
    return directory


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_each_python_block_runs(index, files, monkeypatch):
    monkeypatch.chdir(files)
    code = compile(python_blocks()[index], f"README.md python block {index + 1}", "exec")
    exec(code, {"__name__": "readme"})  # a block that raises fails the test
