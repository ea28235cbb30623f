# berth-registry on the embedded default (SQLite + local blobs under /data).
# Building needs the python:3.11-slim base image from a registry you can reach.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY cli ./cli
COPY runtime ./runtime
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --system --home /data berth && mkdir -p /data && chown berth /data
USER berth
VOLUME /data
EXPOSE 5000
ENV BERTH_DATA_DIR=/data BERTH_HOST=0.0.0.0 BERTH_PORT=5000
CMD ["berth-registry", "serve"]
