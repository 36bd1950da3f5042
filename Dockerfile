# Image for the pipeline's processes (worker, sink, one-shot setup) in docker-compose.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY journey ./journey
COPY streams ./streams
COPY schemas ./schemas
COPY sinks ./sinks
RUN pip install '.[pipeline]'  # the base install is the publisher SDK alone
USER nobody
ENTRYPOINT ["journey"]
