"""`showroom branches load|list` on a real SQLite database: the committed branches file loaded (shelves stocked),
listed, a bad file refused with the field named and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _showroom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "render_node", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_branches_file_is_loaded_and_listed_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    flags = ("--data-dir", str(tmp_path / "data"))
    loaded = _showroom("branches", "load", *flags)
    assert loaded.returncode == 0, loaded.stderr
    assert "4 branches loaded" in loaded.stdout
    listed = _showroom("branches", "list", *flags)
    assert listed.returncode == 0 and "sh-lujiazui" in listed.stdout and "北京市" in listed.stdout
    bad = tmp_path / "branches.toml"
    bad.write_text('[[branches]]\nid = "x"\nname = { zh = "x", en = "x" }\ncity = { zh = "x", en = "x" }\n'
                   'address = { zh = "x", en = "x" }\nhours = { mon = "9 to 5" }\n', encoding="utf-8")
    refused = _showroom("branches", "load", "--file", str(bad), *flags)
    assert refused.returncode == 2 and "hours.mon" in refused.stderr and "Traceback" not in refused.stderr
