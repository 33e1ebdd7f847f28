#!/bin/sh
# Regenerates openapi.json from the FastAPI app (no server, no store: create_app() only builds routes).
# PYTHON defaults to the repository's virtual environment; run from web/tracker.
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
PYTHONPATH="$ROOT/src:$ROOT" "$PYTHON" -c '
import json, sys
from api.main import create_app
from graphrec.config import Settings
json.dump(create_app(Settings()).openapi(), sys.stdout, indent=2, ensure_ascii=False)
sys.stdout.write("\n")
' > "$ROOT/web/tracker/openapi.json.tmp"
mv "$ROOT/web/tracker/openapi.json.tmp" "$ROOT/web/tracker/openapi.json"
echo "wrote web/tracker/openapi.json"
