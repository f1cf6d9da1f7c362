# The API and the command line (index, snapshot, keys) of mochinushi, run as an unprivileged
# user. Built by docker-compose.yml; for deploy/kubernetes, build it and push it to your
# registry:  docker build -f docker/api.Dockerfile -t registry.example/mochinushi-api:0.1.0 .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The runtime subset of requirements.lock, same versions and hashes (`make lock` writes both):
# the image builds the same match keys as every other install.
COPY docker/requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock

WORKDIR /app
COPY pyproject.toml README.md ./
COPY analyzers analyzers
COPY indexer indexer
COPY matching matching
COPY search_api search_api
COPY mappings mappings
COPY mochinushi mochinushi
COPY relevance relevance
RUN pip install --no-deps . && rm -rf /app/build

# A fixed numeric id, so that Kubernetes can check runAsNonRoot (deploy/kubernetes uses it).
RUN groupadd --system --gid 10001 mochinushi \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin mochinushi
USER 10001:10001

EXPOSE 8000
# Liveness only: an API that cannot reach the cluster is alive and says so on /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["mochinushi", "serve", "--host", "0.0.0.0", "--port", "8000"]
