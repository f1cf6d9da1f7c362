FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY analyzers analyzers
COPY indexer indexer
COPY search_api search_api
COPY mappings mappings
COPY mochinushi mochinushi
COPY relevance relevance
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["mochinushi", "serve", "--host", "0.0.0.0", "--port", "8000"]
