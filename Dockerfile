# One image for every gongkai process in compose.yaml: the three services, the worker, the dashboard,
# and the `gongkai` command line (token, replay). NATS, Temporal and PostgreSQL use their own images.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the distribution needs (no .venv, no data dir, no tests).
COPY pyproject.toml README.md ./
COPY gongkai ./gongkai
COPY contracts ./contracts
COPY services ./services
COPY workflows ./workflows
COPY dashboard ./dashboard

# the postgres extra brings psycopg, the driver behind GONGKAI_DATABASE_URL=postgresql+psycopg://…
RUN pip install ".[postgres]"

# Run as an unprivileged user; its home is the data dir (only used when GONGKAI_JWT_KEY or
# GONGKAI_DATABASE_URL are not set, which compose.yaml always sets).
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/gongkai gongkai
USER gongkai
ENV GONGKAI_DATA_DIR=/var/lib/gongkai \
    GONGKAI_HOST=0.0.0.0

EXPOSE 8001 8002 8003 8501

# compose.yaml gives each container its own command; without one, show the command line's help.
CMD ["gongkai", "--help"]
