#!/usr/bin/env bash
# `make test`: start a real OpenSearch node, run the whole suite against it, stop the node.
set -euo pipefail
cd "$(dirname "$0")/.."
SHIAN_NEED_JAVA=1 bash scripts/ensure-system.sh

node_dir=$(mktemp -d -t shian-search-node.XXXXXX)
stop_node() { .venv/bin/shian search-node stop --dir "$node_dir" || true; rm -rf "$node_dir"; }
trap stop_node EXIT

url=$(.venv/bin/shian search-node start --dir "$node_dir" --port 0)
echo "search node: $url"
export SHIAN_TEST_SEARCH_URL="$url"
.venv/bin/python -m pytest "$@"
