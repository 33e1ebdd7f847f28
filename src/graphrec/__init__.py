"""graphrec: graph-based collaborative filtering (behaviour graph + GraphSAGE + FastAPI)."""

__version__ = "0.1.0"
