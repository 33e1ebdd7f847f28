"""``python -m graphrec ...``: the ``graphrec`` command without its console script (tests start the API so)."""

from graphrec.cli import main

main()
