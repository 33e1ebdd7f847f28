"""Fixtures of the real-browser tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.web.browser import CHROMIUM, E2E


@pytest.fixture(scope="module")
def e2e_installed(starts_processes: None) -> Path:
    assert shutil.which("node") and shutil.which("npm"), "Node.js 20+ with npm is needed (see README)"
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
    if not (E2E / "node_modules" / "playwright-core" / "package.json").exists():
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=E2E,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "CI": "true"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
    return E2E
