# syntax=docker/dockerfile:1
# graphrec image: the `graphrec` CLI and the API (`graphrec serve`), used by docker-compose.yml for
# the api, init, topics, consumer and trainer services.
#
#   docker build -t graphrec:0.1.0 .                                 # CPU torch (default)
#   docker build -t graphrec:0.1.0-cu128 \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .    # CUDA torch
#
# Two stages: a builder that installs everything into a virtualenv, and a slim runtime that gets
# only that virtualenv (no compilers, no pip cache, no source tree, no tests). No secrets are baked
# in: the graph password and API keys come from the environment at run time (.env -> compose).
# The pip steps mirror the Makefile's setup (torch pinned first, then the package);
# tests/deploy/test_dockerfile.py checks they stay in step.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---- builder ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# torch first, from the CPU wheel index: the default PyPI torch pulls several GB of CUDA packages.
# For a GPU image pass TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 (or another CUDA index).
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir --upgrade pip \
 && pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY api ./api
# The package and its runtime dependencies (no dev extra); torch is already satisfied above.
RUN pip install --no-cache-dir . \
 && python -c "import graphrec.cli, api.main, torch; print('torch', torch.__version__)" \
 && pip uninstall --yes pip \
 && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

# ---- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRAPHREC_DATA_DIR=/var/lib/graphrec \
    GRAPHREC_MODEL_DIR=/var/lib/graphrec/models

# A fixed non-root user; the data directories exist (owned by it) so named volumes mounted there
# start with the right ownership.
RUN groupadd --system --gid 10001 graphrec \
 && useradd --system --uid 10001 --gid graphrec --home-dir /var/lib/graphrec --no-create-home \
      --shell /usr/sbin/nologin graphrec \
 && mkdir -p /var/lib/graphrec/models /var/lib/graphrec/snapshots /var/lib/graphrec/events /app \
 && chown -R graphrec:graphrec /var/lib/graphrec /app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER graphrec:graphrec
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=4 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

CMD ["graphrec", "serve", "--host", "0.0.0.0", "--port", "8000"]
