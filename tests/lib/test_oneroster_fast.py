"""The fast path splits a file a block of lines at a time: the rows and problems are the same
whatever the block size, and the same as the row-by-row path's."""

import shutil

import pytest

from lib.oneroster import read_package
from tests.fixtures import GRAND_BEND
from tests.lib.test_oneroster import _comparable


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("final_line_end", [True, False])
@pytest.mark.parametrize("blank_line", [False, True])
def test_it_reads_the_same_rows_whatever_the_block_size(tmp_path, monkeypatch, line_end, final_line_end, blank_line):
    package = tmp_path / "grand-bend"
    shutil.copytree(GRAND_BEND, package)
    (package / "SOURCE.md").unlink()
    for path in package.glob("*.csv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        if blank_line and path.name == "users.csv":
            lines.insert(3, "")
        path.write_bytes((line_end.join(lines) + (line_end if final_line_end else "")).encode())
    whole = _comparable(read_package(package))
    for block in (1, 2, 7, 100):
        monkeypatch.setattr("lib.oneroster.fast._BLOCK", block)
        assert _comparable(read_package(package)) == whole, block
    assert whole == _comparable(read_package(package, fast=False))
    assert sum(map(len, whole[0].values())) == 51
