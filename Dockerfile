# One image for every MER service; docker-compose.yaml picks the command.
FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 UV_FROZEN=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/mer
RUN pip install --no-cache-dir uv && apt-get update \
    && apt-get install -y --no-install-recommends openssh-client && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY packages packages
COPY services services
COPY repl-client repl-client
RUN uv sync --no-dev --all-packages
COPY models models
ENV PATH=/opt/mer/bin:$PATH
RUN useradd --create-home mer && mkdir -p /app/.mer && chown mer /app/.mer
USER mer

# The GPU worker: onnxruntime-gpu (CUDA execution provider) in place of the CPU build.
FROM base AS gpu
USER root
RUN uv pip uninstall --python /opt/mer/bin/python onnxruntime \
    && uv pip install --python /opt/mer/bin/python onnxruntime-gpu
USER mer
