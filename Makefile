.PHONY: dev test browser-test check-template build-arm64 smoke chaos-payments fuzz-api bench-views bench-payments bench-coldstart deploy fmt lint

ENV ?= dev

## Local stack (MariaDB, Redis, moto, Toss sandbox) + local gateway on :3000; Ctrl-C stops all.
## SHAPE=production: Redis Cluster (6 nodes) and MariaDB, both TLS-only (infra/local/stack.sh).
SHAPE ?=
dev:
	SHAPE=$(SHAPE) bash infra/local/dev.sh

## Template checks (installs SAM CLI and cfn-lint), the whole suite against real servers
## started on free ports (then torn down) in the plain and the deployed shape (the chaos
## run bounded to 120 payments), the API fuzzer (bounded), the member journey in headless
## Chromium, the arm64 release build of every function, and the production-shaped smoke
## run of those builds.
## Ends with one timing line per stage (infra/ci/timed.sh).
test:
	@bash infra/ci/timed.sh --reset
	bash infra/ci/timed.sh "template checks" bash infra/ci/check-template.sh
	bash infra/ci/timed.sh "suite (plain + production)" bash infra/local/test.sh
	FUZZ_MAX_EXAMPLES=20 bash infra/ci/timed.sh "API fuzzing" bash infra/local/fuzz-api.sh
	bash infra/ci/timed.sh "browser journey (Chromium)" bash infra/local/browser-test.sh
	bash infra/ci/timed.sh "arm64 release build" bash infra/ci/build-arm64.sh
	bash infra/ci/timed.sh "smoke run (Lambda emulator)" bash infra/ci/smoke.sh
	@bash infra/ci/timed.sh --report

## The member journey in headless Chromium through the local stack (screenshots in
## .local/browser/).
browser-test:
	bash infra/local/browser-test.sh

## Every function's arm64 build under the Lambda runtime emulator with the template's
## environment (Redis Cluster + TLS, MySQL TLS, the secret from the emulator).
smoke:
	bash infra/ci/smoke.sh

## The randomized money check: CHAOS_PAYMENTS (500) payments, CHAOS_SEED (random, printed);
## the stack's MariaDB is stopped and started again once mid-run (stack.sh stop-mysql/start-mysql).
CHAOS_PAYMENTS ?= 500
chaos-payments:
	CHAOS_PAYMENTS=$(CHAOS_PAYMENTS) bash infra/local/with-stack.sh \
	  cargo test -p integration-tests --test chaos --locked -- --nocapture

## sam validate --lint, and cfn-lint on the template after the SAM transform.
check-template:
	bash infra/ci/check-template.sh

## cargo lambda build --release --arm64 of every function.
build-arm64:
	bash infra/ci/build-arm64.sh

## schemathesis against the local stack with shared/api/openapi.yaml.
fuzz-api:
	bash infra/local/fuzz-api.sh

## View counting vs its baselines (ratios printed; see README "Benchmarks").
bench-views:
	bash infra/local/bench.sh views

## Confirm throughput/latency vs the Toss sandbox alone, and one recovery run over 1,000 payments.
bench-payments:
	bash infra/local/bench.sh payments

## Release binary and zip size and init time of every function.
bench-coldstart:
	bash infra/local/bench/coldstart.sh

## Build, deploy the SAM stack of $(ENV) (samconfig.toml), then run the migrations.
deploy:
	sam build --config-env $(ENV)
	sam deploy --config-env $(ENV)
	aws lambda invoke --function-name expert-matching-$(ENV)-migrate --payload '{}' \
	  --cli-binary-format raw-in-base64-out /dev/stdout

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	bash infra/ci/unused-deps.sh
