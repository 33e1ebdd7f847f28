"""Lint Cypher with Neo4j's own front end (``@neo4j-cypher/language-support``), offline.

There is no Neo4j server in CI, so the Cypher the Neo4j adapter sends (``graphrec.graph.cypher.neo4j``) and the
``.cypher`` files analysts run in Neo4j Browser (``graph/``) are checked by the parser and semantic
analysis Neo4j ships for its editors: syntax errors, undefined variables, deprecated syntax, unknown
functions and procedures (checked against the Neo4j 5 / Cypher 25 registry bundled with the package),
and - as warnings - labels, relationship types and property keys that are not in our graph model.

The npm package is installed on first use into a cache directory (``~/.cache/graphrec/cypher-lint``,
or ``$GRAPHREC_CYPHER_LINT_DIR``) under a file lock, so parallel test workers do not race. All
statements of one call are linted in ONE ``node`` process (start-up and parser load take ~1-2 s).

A test helper, not part of graphrec (it runs npm): ``tests/graph/test_cypher_lint.py`` drives it, and
``python -m tests.graph.cypher_lint [FILES...]`` (from the repository root) lints the adapter's Cypher and the given
``.cypher`` files (default: every Neo4j ``.cypher`` file under ``./graph``); exit status 1 on any finding.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphrec.event_types import COUNT_PROPS, SUM_PROPS
from graphrec.graph.cypher.neo4j import all_statements
from graphrec.graph.cypher.script import cypher_segments, split_cypher_script

logger = logging.getLogger(__name__)

NPM_PACKAGE = "@neo4j-cypher/language-support"
# Only prerelease versions of the 2.x line exist, so the version is pinned exactly: a plain
# `npm install @neo4j-cypher/language-support` fails with ETARGET.
NPM_VERSION = "2.0.0-next.38"
ENV_DIR = "GRAPHREC_CYPHER_LINT_DIR"
CYPHER_VERSIONS: tuple[str, ...] = ("CYPHER 5", "CYPHER 25")

SEVERITY_ERROR = 1
SEVERITY_WARNING = 2

_INSTALL_TIMEOUT_S = 600
_LINT_TIMEOUT_S = 600
_PARAM_NOT_DEFINED = re.compile(r"^Parameter \$(?P<name>[A-Za-z_][A-Za-z0-9_]*) is not defined\.$")

# The procedure/function registry (signatures and deprecations of a real Neo4j 5 / Cypher 25 server)
# ships inside the package as its test fixture; the path is stable for the pinned version.
_REGISTRY_FILE = "dist/esm/project/language-support/src/tests/testData.js"

LINT_SCRIPT = r"""'use strict';
// Written by tests/graph/cypher_lint.py; reads {statements, schema, versions} as JSON on stdin.
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const ls = require('@neo4j-cypher/language-support');

async function loadRegistry() {
  const root = path.resolve(path.dirname(require.resolve('@neo4j-cypher/language-support')), '..', '..');
  try {
    const mod = await import(pathToFileURL(path.join(root, process.env.GRAPHREC_REGISTRY_FILE)).href);
    const s = mod.testData.mockSchema;
    return { procedures: s.procedures, functions: s.functions };
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const registry = await loadRegistry();
  const results = [];
  for (const st of input.statements) {
    for (const version of input.versions) {
      const schema = { ...input.schema, defaultLanguage: version };
      if (!registry.error) { schema.procedures = registry.procedures; schema.functions = registry.functions; }
      const out = ls.lintCypherQuery(st.text, schema);
      results.push({
        id: st.id,
        version,
        diagnostics: out.diagnostics.map((d) => ({
          severity: d.severity, message: d.message, start: d.offsets.start, end: d.offsets.end,
        })),
      });
    }
  }
  process.stdout.write(JSON.stringify({ registry_error: registry.error || null, results }));
}

main().catch((err) => { process.stderr.write(String(err && err.stack ? err.stack : err)); process.exit(2); });
"""


class CypherLintUnavailable(RuntimeError):
    """node/npm are missing or the language-support package could not be installed or run."""


@dataclass(frozen=True, slots=True)
class LintSchema:
    """The graph vocabulary; names outside it are reported as warnings by the linter.

    ``property_keys=None`` disables the property check (Browser queries may read arbitrary item
    properties); labels and relationship types are always checked when given.
    """

    labels: tuple[str, ...] = ()
    relationship_types: tuple[str, ...] = ()
    property_keys: tuple[str, ...] | None = None

    def as_db_schema(self) -> dict[str, list[str]]:
        schema: dict[str, list[str]] = {}
        if self.labels or self.relationship_types:
            schema["labels"] = list(self.labels)
            schema["relationshipTypes"] = list(self.relationship_types)
        if self.property_keys is not None:
            schema["propertyKeys"] = list(self.property_keys)
        return schema


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: int
    message: str
    start: int
    end: int
    cypher_version: str

    @property
    def is_error(self) -> bool:
        return self.severity == SEVERITY_ERROR

    def describe(self, text: str) -> str:
        line = text.count("\n", 0, self.start) + 1
        col = self.start - (text.rfind("\n", 0, self.start) + 1) + 1
        kind = "error" if self.is_error else "warning"
        snippet = text[self.start : self.end].replace("\n", " ")[:60]
        return f"{kind} [{self.cypher_version}] line {line}:{col} near {snippet!r}: {self.message}"


@dataclass(frozen=True, slots=True)
class LintResult:
    name: str
    text: str
    diagnostics: tuple[Diagnostic, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.is_error)

    @property
    def clean(self) -> bool:
        return not self.diagnostics

    def report(self) -> str:
        lines = [f"{self.name}:"]
        lines += [f"  {d.describe(self.text)}" for d in self.diagnostics]
        return "\n".join(lines)


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "graphrec" / "cypher-lint"


def _installed_version(cache_dir: Path) -> str | None:
    manifest = cache_dir / "node_modules" / NPM_PACKAGE / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))
    except (OSError, ValueError):
        return None


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def ensure_installed(cache_dir: Path | None = None) -> Path:
    """Install the pinned npm package into ``cache_dir`` if needed; return the lint script's path."""
    cache_dir = (cache_dir or default_cache_dir()).resolve()
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise CypherLintUnavailable(
            "the Cypher lint needs Node.js (node and npm on PATH) to run Neo4j's Cypher front end "
            f"({NPM_PACKAGE}@{NPM_VERSION}); install Node.js >= 20"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    script = cache_dir / "lint.cjs"
    with open(cache_dir / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers wait here; released on close
        if _installed_version(cache_dir) != NPM_VERSION:
            logger.info("installing %s@%s into %s", NPM_PACKAGE, NPM_VERSION, cache_dir)
            cmd = [
                npm,
                "install",
                "--prefix",
                str(cache_dir),
                "--save-exact",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"{NPM_PACKAGE}@{NPM_VERSION}",
            ]
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S, cwd=cache_dir, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise CypherLintUnavailable(f"`{' '.join(cmd)}` timed out") from exc
            if proc.returncode != 0 or _installed_version(cache_dir) != NPM_VERSION:
                raise CypherLintUnavailable(
                    f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()[-2000:]}"
                )
        _write_if_changed(script, LINT_SCRIPT)
    return script


def parameters_used(text: str) -> frozenset[str]:
    """``$name`` parameters a statement refers to (outside strings, comments and quoted names)."""
    return frozenset(m.group(1) for m in re.finditer(r"\$([A-Za-z_][A-Za-z0-9_]*)", _blank_literals(text)))


def _blank_literals(text: str) -> str:
    """``text`` with string literals, backtick names and comments replaced by spaces."""
    return "".join(seg if kind == "code" else " " * len(seg) for kind, seg in cypher_segments(text))


def lint_statements(
    statements: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    schema: LintSchema | None = None,
    declared_parameters: Mapping[str, Iterable[str]] | None = None,
    cypher_versions: Sequence[str] = CYPHER_VERSIONS,
    cache_dir: Path | None = None,
) -> list[LintResult]:
    """Lint named statements in one node process; one ``LintResult`` per statement, in input order.

    The linter reports every ``$param`` as "not defined" (it cannot know what the caller binds).
    Exactly those messages are dropped, and only for parameters the statement declares:
    ``declared_parameters[name]`` when given, else the parameters the statement text uses.
    Each statement is linted under every Cypher version in ``cypher_versions``.
    """
    items = list(statements.items() if isinstance(statements, Mapping) else statements)
    if not items:
        return []
    script = ensure_installed(cache_dir)
    payload = {
        "statements": [{"id": idx, "text": text} for idx, (_, text) in enumerate(items)],
        "schema": (schema or LintSchema()).as_db_schema(),
        "versions": list(cypher_versions),
    }
    env = {**os.environ, "GRAPHREC_REGISTRY_FILE": _REGISTRY_FILE}
    try:
        proc = subprocess.run(
            ["node", str(script)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=_LINT_TIMEOUT_S,
            cwd=script.parent,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CypherLintUnavailable("the Cypher lint process timed out") from exc
    if proc.returncode != 0:
        raise CypherLintUnavailable(f"the Cypher lint process failed (exit {proc.returncode}):\n{proc.stderr}")
    out = json.loads(proc.stdout)
    if out.get("registry_error"):
        # Without the registry unknown functions/procedures go unnoticed: refuse rather than pass quietly.
        raise CypherLintUnavailable(f"could not load the procedure/function registry: {out['registry_error']}")

    found: list[list[Diagnostic]] = [[] for _ in items]
    seen: list[set[tuple[int, str, int, int]]] = [set() for _ in items]
    for res in out["results"]:
        idx = res["id"]
        name, text = items[idx]
        declared = (
            set(declared_parameters[name])
            if declared_parameters and name in declared_parameters
            else set(parameters_used(text))
        )
        for d in res["diagnostics"]:
            match = _PARAM_NOT_DEFINED.match(d["message"])
            if match and match.group("name") in declared:
                continue
            key = (d["severity"], d["message"], d["start"], d["end"])
            if key in seen[idx]:  # the same finding under several Cypher versions: report once
                continue
            seen[idx].add(key)
            found[idx].append(Diagnostic(d["severity"], d["message"], d["start"], d["end"], res["version"]))
    return [LintResult(name, text, tuple(diags)) for (name, text), diags in zip(items, found, strict=True)]


def cypher_file_statements(path: Path) -> list[tuple[str, str]]:
    """Named statements of a ``.cypher`` file (Browser ``:param`` lines stripped, split on ``;``)."""
    text = path.read_text(encoding="utf-8")
    return [(f"{path}:{line}", stmt) for line, stmt in split_cypher_script(text)]


# The Neo4j graph's vocabulary; the lint warns on any label, type or (read) property outside it.
LABELS: tuple[str, ...] = ("User", "Item", "Category", "Ledger", "Meta", "EventId", "Segment")
RELATIONSHIP_TYPES: tuple[str, ...] = ("INTERACTED", "IN_CATEGORY", "IN_SEGMENT")
PROPERTY_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "name",
    "degree",
    "embedding",
    "model_version",
    "weight",
    "count",
    "first_ts",
    "last_ts",
    *COUNT_PROPS,
    *SUM_PROPS,
    "key",
    "next_seq",
    "complete",
    "rows",
    "completed_at",
    "value",
    "consent",
    "user",
    "at",
    "fp",
    "size",
    "centroid",
    "features",
    "rule",
    "computed_ms",
    "listed_ms",
    "url",
    "image_url",
    "price",
    "currency",
    "attributes",
    "available",
    "provisional",
    "client",
)


def adapter_statements() -> list[tuple[str, str]]:
    """Every Cypher statement the Neo4j adapter can send, named ``NEO4J.NAME`` (or ``schema.cypher#N``)."""
    return list(all_statements().items())


def adapter_schema() -> LintSchema:
    return LintSchema(LABELS, RELATIONSHIP_TYPES, PROPERTY_KEYS)


def file_schema() -> LintSchema:
    """Schema for hand-written ``.cypher`` files: labels and types checked, properties free."""
    return LintSchema(LABELS, RELATIONSHIP_TYPES, None)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # graph/queries/falkordb/ holds FalkorDB dialect forms, not Neo4j Cypher
    files = [Path(a) for a in args] or sorted(p for p in Path("graph").rglob("*.cypher") if "falkordb" not in p.parts)
    results = lint_statements(adapter_statements(), schema=adapter_schema())
    for path in files:
        results += lint_statements(cypher_file_statements(path), schema=file_schema())
    bad = [r for r in results if not r.clean]
    for r in bad:
        print(r.report())
    print(f"linted {len(results)} statements ({len(files)} .cypher files): {len(bad)} with findings")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
