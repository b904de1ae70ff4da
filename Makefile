.PHONY: dev test up down lint fmt tables infra package bench openapi fuzz

## Start the local stack and the API on http://127.0.0.1:8000
dev:
	./dev

## Run every test (starts its own stores; needs redis-server, installed if missing)
test:
	scripts/test

## The local stack alone
up:
	localstack/up
down:
	localstack/down

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## Regenerate infra/template.json from the routes and tables, and check it offline
infra:
	cargo run -q -p krv-infra --bin sam-template > infra/template.json
	scripts/check-infra

## Build every Lambda as a zip (target/lambda/<binary>/bootstrap.zip) and list the sizes
package:
	scripts/package-lambdas

## Run the benchmarks (see BENCHMARKS.md)
bench:
	bench/run

## Regenerate localstack/tables/*.json from the table definitions in code
tables:
	cargo run -q -p krv-server -- table-json localstack/tables

## Regenerate docs/openapi.json (the API contract) from the handlers' annotations
openapi:
	cargo run -q -p krv-server -- openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

## Fuzz the running API against docs/openapi.json with schemathesis (part of `make test`)
fuzz:
	scripts/fuzz-api
