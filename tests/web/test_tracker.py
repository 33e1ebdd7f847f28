"""The browser tracker's own suite (node's test runner over happy-dom), its build and its typed API
client, run from the Python suite so `make test` and CI cover the TypeScript too.

``npm ci`` installs the pinned dev dependencies into ``web/tracker/node_modules`` (ignored by git);
no browser is downloaded here (the real-Chromium storefront test is separate).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TRACKER = Path(__file__).resolve().parents[2] / "web" / "tracker"


def npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", *args],
        cwd=TRACKER,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CI": "true", "npm_config_fund": "false", "npm_config_audit": "false"},
    )


@pytest.fixture(scope="module")
def installed(starts_processes: None) -> Path:
    assert shutil.which("npm"), "Node.js 20+ with npm is needed for the tracker (see README)"
    if not (TRACKER / "node_modules" / ".package-lock.json").exists():
        result = npm("ci")
        assert result.returncode == 0, result.stderr[-3000:]
    return TRACKER


def test_tracker_builds_and_its_tests_pass(installed: Path) -> None:
    build = npm("run", "build")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert (installed / "dist" / "tracker.mjs").exists() and (installed / "dist" / "tracker.iife.js").exists()
    run = npm("test")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    passed = int(re.search(r"# pass (\d+)", output).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"# fail (\d+)", output).group(1))  # type: ignore[union-attr]
    assert failed == 0 and passed >= 40, output[-2000:]


def test_tracker_types_match_the_apis_openapi_document(installed: Path) -> None:
    """The checked-in openapi.json is the app's current document, and the generated types match it."""
    from api.main import create_app
    from graphrec.config import Settings

    current = create_app(Settings()).openapi()
    assert json.loads((installed / "openapi.json").read_text()) == current, (
        "web/tracker/openapi.json is stale: run `npm run export-openapi && npm run gen-types` in web/tracker"
    )
    check = npm("run", "check-types")
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]


def test_the_packaged_tracker_bundle_is_a_fresh_build(installed: Path) -> None:
    """The storefront ships api/static/demo/tracker.iife.js (no npm for `make demo`); it must be what
    the tracker's sources build to today, byte for byte, so it cannot go stale."""
    script = (
        "import('./scripts/build.mjs').then(async (m) => process.stdout.write((await m.bundles())['tracker.iife.js']))"
    )
    fresh = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=installed, capture_output=True, text=True, timeout=120
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    packaged = installed.parents[1] / "api" / "static" / "demo" / "tracker.iife.js"
    assert len(fresh.stdout) > 10_000  # a whole bundle, not an error message
    assert packaged.read_text(encoding="utf-8") == fresh.stdout, (
        "api/static/demo/tracker.iife.js is stale: run `npm run build` in web/tracker (it writes the copy)"
    )
