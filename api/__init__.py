"""The graphrec HTTP API (FastAPI). Start it with ``uvicorn api.main:create_worker_app --factory``."""
