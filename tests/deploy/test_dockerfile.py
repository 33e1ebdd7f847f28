"""Dockerfile and .dockerignore, checked without a Docker engine.

The pip steps are parsed and compared with the Makefile's setup and pyproject.toml (same torch pin,
torch before the package, no dev extra in the image), the runtime stage is checked for the
promises the README makes (non-root, /healthz health check, no build tools or secrets), and the
package is built into a wheel from exactly the files the builder stage COPYs, with the same
build backend, to prove the image gets the schema and the policy file.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from deploy_support import DOCKERFILE, DOCKERIGNORE, REPO
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL", re.I)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        (found,) = [s for s in self.stages if s.name == name]
        return found

    def stage_args(self, stage: Stage) -> dict[str, str]:
        out: dict[str, str] = {}
        for arg in stage.args("ARG"):
            key, _, default = arg.partition("=")
            out[key] = default
        return out


def parse_dockerfile(text: str) -> Dockerfile:
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            assert m, line
            stages.append(Stage(m.group(1), m.group(2)))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede the first FROM: {line}"
            key, _, default = rest.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(global_args, stages)


def pip_installs(run: str) -> list[list[str]]:
    """The argument lists of the `pip install` commands in one RUN line."""
    out = []
    for part in run.split("&&"):
        words = shlex.split(part)
        if words[:2] == ["pip", "install"] or words[1:3] == ["-m", "pip"] and "install" in words:
            out.append(words[words.index("install") + 1 :])
    return out


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _makefile_var(name: str) -> str:
    m = re.search(rf"^{name}\s*\?=\s*(\S+)", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
    assert m, f"Makefile defines no {name}"
    return m.group(1)


def _resolve(image: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args[m.group(1)], image)


# -- parsing is right (and can fail) -----------------------------------------------------------------


def test_parser_reads_continuations_and_pip_commands() -> None:
    df = parse_dockerfile(
        "ARG B=python:3.11.9-slim\nFROM ${B} AS b\n# c\nRUN a \\\n  # inner\n"
        " && pip install --no-cache-dir 'torch==1' --index-url x && pip install .\n"
    )
    assert df.global_args == {"B": "python:3.11.9-slim"}
    (run,) = df.stage("b").args("RUN")
    assert pip_installs(run) == [["--no-cache-dir", "torch==1", "--index-url", "x"], ["."]]


# -- stages and base images ---------------------------------------------------------------------------


def test_multi_stage_builder_then_runtime(dockerfile: Dockerfile) -> None:
    assert [s.name for s in dockerfile.stages] == ["builder", "runtime"]
    runtime = dockerfile.stage("runtime")
    assert runtime.args("COPY") == ["--from=builder /opt/venv /opt/venv"], "runtime gets only the venv"


def test_base_images_are_pinned_and_satisfy_requires_python(dockerfile: Dockerfile, pyproject: dict) -> None:
    for stage in dockerfile.stages:
        image = _resolve(stage.base, dockerfile.global_args)
        m = re.fullmatch(r"python:(\d+\.\d+\.\d+)-slim(-\w+)?", image)
        assert m, f"{image!r}: want an exact python:<x.y.z>-slim[-<debian>] tag (no latest, no floating minor)"
        assert Version(m.group(1)) in SpecifierSet(pyproject["project"]["requires-python"])


# -- pip steps mirror the Makefile and pyproject ------------------------------------------------------


def test_torch_pin_and_index_mirror_the_makefile(dockerfile: Dockerfile, pyproject: dict) -> None:
    builder = dockerfile.stage("builder")
    args = dockerfile.stage_args(builder)
    assert args["TORCH_VERSION"] == _makefile_var("TORCH_VERSION")
    assert args["TORCH_INDEX_URL"] == CPU_INDEX, "CPU torch by default"
    torch_req = next(Requirement(d) for d in pyproject["project"]["dependencies"] if d.startswith("torch"))
    assert Version(args["TORCH_VERSION"]) in torch_req.specifier
    installs = [words for run in builder.args("RUN") for words in pip_installs(run)]
    torch_steps = [w for w in installs if any(a.startswith("torch==") for a in w)]
    assert torch_steps == [["--no-cache-dir", "torch==${TORCH_VERSION}", "--index-url", "${TORCH_INDEX_URL}"]]
    package_steps = [w for w in installs if "." in w]
    assert package_steps == [["--no-cache-dir", "."]], "the package, without the dev extra, not editable"
    assert installs.index(torch_steps[0]) < installs.index(package_steps[0]), "torch first, as in the Makefile"
    assert all("--no-cache-dir" in w for w in installs)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert makefile.index('install --quiet "torch==$(TORCH_VERSION)"') < makefile.index('install --quiet -e ".[dev]"')


def test_builder_copies_what_the_package_build_needs(dockerfile: Dockerfile, pyproject: dict) -> None:
    sources = {src for arg in dockerfile.stage("builder").args("COPY") for src in arg.split()[:-1]}
    assert {"pyproject.toml", pyproject["project"]["readme"], "src", "api"} <= sources
    where = pyproject["tool"]["setuptools"]["packages"]["find"]["where"]
    assert "src" in where and "." in where  # api* comes from the repo root, graphrec* from src/


# -- the runtime stage ------------------------------------------------------------------------------


def test_runtime_is_non_root_with_healthcheck_and_serve(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stage("runtime")
    (user,) = runtime.args("USER")
    assert user.split(":")[0] not in ("root", "0")
    (health,) = runtime.args("HEALTHCHECK")
    assert "http://127.0.0.1:8000/healthz" in health
    (cmd,) = runtime.args("CMD")
    assert cmd == '["graphrec", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    assert runtime.args("EXPOSE") == ["8000"]
    for run in runtime.args("RUN"):
        assert not re.search(r"\b(pip|apt-get|apk|gcc|build-essential)\b", run), (
            f"runtime stage installs something: {run}"
        )


def test_no_secrets_in_the_image(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        for keyword, arg in stage.instructions:
            if keyword in ("ENV", "ARG", "LABEL"):
                assert not SECRET_NAMES.search(arg), f"{keyword} {arg}: secrets come from the environment"
            if keyword in ("COPY", "ADD"):
                assert ".env" not in arg.split(), arg


# -- .dockerignore ------------------------------------------------------------------------------------


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        parts = path.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[:i]), pat) for i in range(1, len(parts) + 1)) or (
            pat.startswith("**/") and any(fnmatch.fnmatch(p, pat[3:]) for p in parts)
        )
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_keeps_secrets_and_state_out_but_not_the_sources(dockerfile: Dockerfile) -> None:
    patterns = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    for path in (
        ".env",
        ".env.production",
        ".git/config",
        ".venv/bin/python",
        ".graphrec/store/x",
        "tests/conftest.py",
        "src/graphrec/__pycache__/cli.cpython-311.pyc",
        "graphrec.egg-info/PKG-INFO",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the Docker daemon"
    sources = [src for arg in dockerfile.stage("builder").args("COPY") for src in arg.split()[:-1]]
    for src in sources:
        assert not _ignored(src, patterns), f"{src} is COPYed by the Dockerfile but excluded by .dockerignore"
    for must in ("src/graphrec/graph/schema.cypher", "src/graphrec/events/policy.toml", "api/main.py"):
        assert not _ignored(must, patterns), must


# -- the package the image installs -------------------------------------------------------------------


@pytest.mark.integration  # pip builds a wheel
def test_wheel_from_the_copied_files_carries_schema_and_policy(dockerfile: Dockerfile, tmp_path: Path) -> None:
    """`pip install .` in the builder sees only the COPYed files: build a wheel from exactly those."""
    context = tmp_path / "context"
    context.mkdir()
    for arg in dockerfile.stage("builder").args("COPY"):
        *sources, dest = arg.split()
        for src in sources:
            target = context / dest / Path(src).name if dest.endswith("/") else context / dest
            if (REPO / src).is_dir():
                shutil.copytree(REPO / src, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                shutil.copy2(REPO / src, target)
    out = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("graphrec-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for required in (
            "graphrec/graph/schema.cypher",
            "graphrec/events/policy.toml",
            "graphrec/cli.py",
            "graphrec/commands/serve.py",
            "api/main.py",
            "api/static/swagger/swagger-ui-bundle.js",
            "api/static/swagger/swagger-ui.css",
            "api/templates/storefront.html",
            "api/static/demo/storefront.js",
            "api/static/demo/tracker.iife.js",
        ):
            assert required in names, f"{required} missing from the wheel the image installs"
        assert zf.read("graphrec/graph/schema.cypher") == (REPO / "src/graphrec/graph/schema.cypher").read_bytes()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "graphrec = graphrec.cli:main" in zf.read(entry_points).decode()
        assert not [n for n in names if n.startswith(("tests/", "bench/", "training/"))]
