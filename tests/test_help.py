"""The command line's help is right, and fast: it loads none of the image libraries."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from skinmetrics.cli import app


def test_help_shows_the_text_as_written():
    text = CliRunner().invoke(app, ["run", "--help"]).output
    assert '{"corners": [[x,y] x4]}' in " ".join(text.split())  # not eaten as markup
    assert "VISITS" in text and "<bool>" not in text


def test_help_loads_no_image_library():
    code = ("import sys; from skinmetrics.cli import app\n"
            "try:\n    app(['run', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('cv2', 'scipy', 'skimage', 'numpy', 'pandas') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"
