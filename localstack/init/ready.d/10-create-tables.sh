#!/usr/bin/env bash
# LocalStack init hook: creates the tables from localstack/tables/*.json, which
# are generated from the code (`krv-server table-json localstack/tables`) and
# checked against it by the test suite.
set -euo pipefail
for file in /etc/localstack/tables/*.json; do
  name=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["TableName"])' "$file")
  if ! awslocal dynamodb describe-table --table-name "$name" >/dev/null 2>&1; then
    awslocal dynamodb create-table --cli-input-json "file://$file" >/dev/null
    awslocal dynamodb update-time-to-live --table-name "$name" \
      --time-to-live-specification "Enabled=true,AttributeName=ttl" >/dev/null
    echo "created $name"
  fi
done
