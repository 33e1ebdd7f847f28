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
from typing import Any

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


@pytest.fixture(scope="module")
def packed(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`npm pack` once for the module: its prepack script is `npm run build`, so this is the build too (the
    two tests below used to build it twice). The folder the tarball lands in and npm's report of it."""
    destination = tmp_path_factory.mktemp("packed")
    packed = npm("pack", "--json", "--pack-destination", str(destination))  # prepack builds first
    assert packed.returncode == 0, packed.stdout[-3000:] + packed.stderr[-3000:]
    info: dict[str, Any] = json.loads(packed.stdout[packed.stdout.index("[") :])[0]
    return destination, info


def test_tracker_builds_and_its_tests_pass(installed: Path, packed: tuple[Path, dict[str, Any]]) -> None:
    scripts = json.loads((installed / "package.json").read_text())["scripts"]
    assert scripts["prepack"] == "npm run build"  # what `packed` ran is the build
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


@pytest.mark.parametrize("bundle", ["tracker.iife.js", "widgets.iife.js"])
def test_the_packaged_bundles_are_a_fresh_build(installed: Path, bundle: str) -> None:
    """The storefront ships api/static/demo/tracker.iife.js and widgets.iife.js (no npm for `make demo`);
    each must be what the tracker's sources build to today, byte for byte, so it cannot go stale."""
    script = f"import('./scripts/build.mjs').then(async (m) => process.stdout.write((await m.bundles())['{bundle}']))"
    fresh = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=installed, capture_output=True, text=True, timeout=120
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    packaged = installed.parents[1] / "api" / "static" / "demo" / bundle
    assert len(fresh.stdout) > 5_000  # a whole bundle, not an error message
    assert packaged.read_text(encoding="utf-8") == fresh.stdout, (
        f"api/static/demo/{bundle} is stale: run `npm run build` in web/tracker (it writes the copy)"
    )


CONSUMER = """\
import { createTracker, createClient, GraphrecError, version } from "@graphrec/tracker";
import type { Recommendations, TrackerOptions } from "@graphrec/tracker";
import { defineWidgets } from "@graphrec/tracker/widgets";
import type { RenderDetail, Widgets } from "@graphrec/tracker/widgets";

const options: TrackerOptions = { endpoint: "https://api.example.com", key: "pk_x", requireConsent: true };
export const make = () => createTracker(options);
export const widgets = (): Widgets => defineWidgets({ tracker: make(), prefix: "shop" });
export const shown = (d: RenderDetail): string[] => d.items.map((it) => it.item_id);
export const rows = (r: Recommendations): (string | null | undefined)[] =>
  [r.recommendation_id, ...r.data.map((d) => d.item_id)];
export { createClient, GraphrecError, version };
"""


WHICH = """\
const tracker = await import("@graphrec/tracker");
const widgets = await import("@graphrec/tracker/widgets"); // loads without a DOM: nothing runs at import
console.log(tracker.version, typeof widgets.defineWidgets);
"""


def test_the_tracker_packs_into_a_tarball_that_installs_with_its_types(
    installed: Path, packed: tuple[Path, dict[str, Any]]
) -> None:
    """What the README's Install section says, done: `npm pack` builds a tarball with the module, its
    types, the script-tag build and the README; `npm install ./graphrec-tracker-<v>.tgz` in another project
    (offline: the package has no dependencies) gives an importable, type-checked `@graphrec/tracker`."""
    version = json.loads((installed / "package.json").read_text())["version"]
    folder, info = packed
    assert info["filename"] == f"graphrec-tracker-{version}.tgz"
    files = {f["path"] for f in info["files"]}
    assert {"README.md", "package.json", "dist/tracker.mjs", "dist/tracker.iife.js", "dist/types/index.d.ts"} <= files
    assert {"dist/widgets.mjs", "dist/widgets.iife.js", "dist/types/widgets/index.d.ts"} <= files
    assert not {f for f in files if f.startswith(("src/", "test/", "node_modules/"))}

    app = folder / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True, "type": "module"}))
    env = {**os.environ, "npm_config_fund": "false", "npm_config_audit": "false"}
    install = subprocess.run(
        ["npm", "install", "--offline", f"../graphrec-tracker-{version}.tgz"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    run = subprocess.run(
        ["node", "--input-type=module", "-e", WHICH],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and run.stdout.split() == [version, "function"], run.stderr[-2000:]
    iife = app / "node_modules" / "@graphrec" / "tracker" / "dist" / "tracker.iife.js"
    assert iife.read_text().count("\n") == 1  # the script-tag build, one line
    (app / "use.ts").write_text(CONSUMER)
    tsc = installed / "node_modules" / "typescript" / "bin" / "tsc"
    for module, resolution in (("nodenext", "nodenext"), ("esnext", "bundler")):  # a node project, a bundler's
        check = subprocess.run(
            ["node", str(tsc), "--noEmit", "--strict", "--target", "es2020", "--lib", "es2020,dom"]
            + ["--module", module, "--moduleResolution", resolution, "use.ts"],
            cwd=app,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, (resolution, check.stdout[-3000:])
