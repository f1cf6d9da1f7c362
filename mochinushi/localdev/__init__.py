"""A local OpenSearch for development, tests and the demo: fetched from Maven Central, cached,
started and stopped by ``mochinushi opensearch``. Not part of the service: production points
``MOCHINUSHI_OPENSEARCH_URL`` at a cluster of its own."""
