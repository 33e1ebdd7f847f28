"""``graphrec neo4j start | stop | status``: a local Neo4j 5 with Browser, without Docker, for analysts.

Why a command: Browser on graphrec's graph used to need Docker (``docker compose``); this runs the same
Neo4j the tests run (``graphrec.neo4j_local``) detached, keeps its data under the data directory, and
prints what to paste: graphrec's settings, Browser's ``:style`` and ``:play`` commands. Nothing heavy is
imported here: every ``graphrec`` command imports this module when the CLI starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from graphrec.neo4j_local.layout import Layout
    from graphrec.neo4j_local.server import Running

neo4j_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="A local Neo4j 5 (+ GDS) with Neo4j Browser, no Docker: data under GRAPHREC_DATA_DIR/neo4j.",
)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="graphrec's data directory (default: GRAPHREC_DATA_DIR)")
]


def _layout(data_dir: Path | None) -> Layout:
    """The local Neo4j's files under ``--data-dir``, else under ``GRAPHREC_DATA_DIR``."""
    from graphrec.config import Settings
    from graphrec.neo4j_local.layout import Layout

    return Layout.under(data_dir if data_dir is not None else Settings().data_dir)


def _settings_lines(server: Running, layout: Layout) -> list[str]:
    from graphrec.neo4j_local.launch import USER

    return [
        f"  export GRAPHREC_GRAPH_URI={server.bolt_uri}",
        f"  export GRAPHREC_GRAPH_USER={USER}",
        f'  export GRAPHREC_GRAPH_PASSWORD="$(cat {layout.password_file})"',
    ]


@neo4j_app.command("start")
def start(
    data_dir: DataDir = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="the neo4j user's password (8+ characters; default GRAPHREC_NEO4J_LOCAL_PASSWORD, else the stored "
            "one, else one generated and shown once)",
        ),
    ] = None,
    bolt_port: Annotated[int, typer.Option("--bolt-port", help="Bolt port on 127.0.0.1")] = 7687,
    http_port: Annotated[int, typer.Option("--http-port", help="HTTP port (Browser) on 127.0.0.1")] = 7474,
    files_port: Annotated[
        int, typer.Option("--files-port", help="port of the Browser guide and style files on 127.0.0.1")
    ] = 7475,
    queries: Annotated[
        Path | None,
        typer.Option("--queries", help="saved queries for the Browser guide (default: the checkout's graph/queries)"),
    ] = None,
    heap: Annotated[str, typer.Option("--heap", help="JVM heap, e.g. 1g")] = "1g",
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="seconds to wait for Neo4j to answer")] = 240.0,
    write_env: Annotated[
        bool, typer.Option("--write-env", help="also write GRAPHREC_GRAPH_URI/USER/PASSWORD into ./.env (mode 0600)")
    ] = False,
) -> None:
    """Start the local Neo4j detached (or report the running one) and print how to use it."""
    from graphrec.config import Settings
    from graphrec.data.errors import UserError
    from graphrec.neo4j_local import server
    from graphrec.neo4j_local.env_file import update_env_file
    from graphrec.neo4j_local.guide import default_queries_dir
    from graphrec.neo4j_local.launch import USER
    from graphrec.neo4j_local.layout import Layout

    settings = Settings()
    layout = Layout.under(data_dir if data_dir is not None else settings.data_dir)
    source = "--password"
    if password is None and settings.neo4j_local_password is not None:
        password, source = settings.neo4j_local_password.get_secret_value(), "GRAPHREC_NEO4J_LOCAL_PASSWORD"
    folder = queries if queries is not None else default_queries_dir()
    if folder is not None and not folder.is_dir():
        raise UserError(f"--queries {folder}: not a folder of .cypher files")
    if not layout.password_file.exists() and password is None:
        typer.echo("starting Neo4j (the first start resolves its jars with Maven: minutes)...", err=True)
    started = server.start(
        layout,
        ports=server.Ports(bolt_port, http_port, files_port),
        password=password,
        password_source=source,
        queries=folder,
        heap=heap,
        timeout_s=timeout,
    )
    running = started.server
    state = "was already running" if started.already_running else "is running"
    typer.echo(f"Neo4j {state} (pid {running.pid}); data in {layout.data}, log {layout.log_file}")
    typer.echo(f"  Bolt     {running.bolt_uri}")
    typer.echo(f"  Browser  {running.browser_url}  (user {USER})")
    if started.generated_password is not None:
        typer.echo(f"  neo4j password: {started.generated_password}")
        typer.echo(f"  (generated: shown this once; kept in {layout.password_file}, mode 0600)")
    else:
        typer.echo(f"  password: in {layout.password_file} (mode 0600)")
    typer.echo("graphrec settings for it:")
    for line in _settings_lines(running, layout):
        typer.echo(line)
    if write_env:
        stored = layout.password_file.read_text(encoding="utf-8").strip()
        update_env_file(
            Path(".env"),
            {"GRAPHREC_GRAPH_URI": running.bolt_uri, "GRAPHREC_GRAPH_USER": USER, "GRAPHREC_GRAPH_PASSWORD": stored},
        )
        typer.echo(f"  (written to {Path('.env').absolute()}, mode 0600)")
    typer.echo("In Browser, after connecting, paste:")
    typer.echo(f"  :style {running.style_url}")
    if started.guide_queries:
        typer.echo(f"  :play {running.guide_url}   ({started.guide_queries} saved queries)")
    else:
        typer.echo("  (no saved queries found for the guide: pass --queries DIR)")


@neo4j_app.command("stop")
def stop(
    data_dir: DataDir = None,
    grace: Annotated[float, typer.Option("--grace", min=1, help="seconds for a clean shutdown before SIGKILL")] = 60.0,
) -> None:
    """Stop the local Neo4j (SIGTERM, then SIGKILL past --grace); its data stays."""
    from graphrec.neo4j_local import server

    layout = _layout(data_dir)
    pid = server.stop(layout, grace_s=grace)
    typer.echo(f"Neo4j stopped (pid {pid})" if pid is not None else f"Neo4j was not running ({layout.home})")


@neo4j_app.command("status")
def status(data_dir: DataDir = None) -> None:
    """Say whether the local Neo4j runs, with its Bolt and Browser URLs; exit 1 when stopped."""
    from graphrec.neo4j_local import server

    layout = _layout(data_dir)
    running = server.status(layout)
    if running is None:
        typer.echo(f"stopped (data in {layout.data})")
        raise typer.Exit(1)
    typer.echo(f"running (pid {running.pid})")
    typer.echo(f"  Bolt     {running.bolt_uri}")
    typer.echo(f"  Browser  {running.browser_url}")
    typer.echo(f"  password in {layout.password_file}")
    typer.echo(f"  guide    :play {running.guide_url}")
    typer.echo(f"  style    :style {running.style_url}")


def register(app: typer.Typer) -> None:
    app.add_typer(neo4j_app, name="neo4j")
