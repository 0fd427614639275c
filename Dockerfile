# One image for every caravan component; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exchange exchange
COPY nodes nodes
COPY schemas schemas
COPY scenarios scenarios
RUN pip install --no-cache-dir -e .
ENTRYPOINT []
