"""Neo4j 5 without Docker: one launcher (``Launcher.java`` + ``pom.xml``, package data) for the analyst's
local server (``graphrec neo4j start | stop | status``: :mod:`.server`) and the test suite's throwaway one
(``tests/neo4j_harness``).

Why in the package: the tests import from the product, never the reverse, so the jars' resolution
(:mod:`.maven`), the Java command line (:mod:`.launch`) and the launcher itself live here once. Nothing
here imports a Neo4j driver or anything heavy: the CLI imports it on every start.
"""
