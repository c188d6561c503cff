# One image for every abauto service; the command picks the service (`abauto run …`).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY shared ./shared
COPY services ./services
COPY migrations ./migrations
COPY devstack ./devstack
COPY ops ./ops
COPY alembic.ini ./
RUN pip install -c constraints.txt . \
    && groupadd --system --gid 10001 abauto \
    && useradd --system --uid 10001 --gid abauto --no-create-home abauto

USER abauto:abauto
ENTRYPOINT ["abauto"]
CMD ["--help"]
