# OpenSearch with the two Japanese analysis plugins, same version as the local runner
# (mochinushi/settings.py OPENSEARCH_VERSION).
ARG OPENSEARCH_VERSION=2.15.0
FROM opensearchproject/opensearch:${OPENSEARCH_VERSION}
RUN /usr/share/opensearch/bin/opensearch-plugin install --batch analysis-icu \
 && /usr/share/opensearch/bin/opensearch-plugin install --batch analysis-kuromoji
