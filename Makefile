.PHONY: dev test bench-views bench-payments fmt lint

## Local stack (MariaDB, Redis, moto) + local gateway on :3000; Ctrl-C stops all.
dev:
	bash infra/local/dev.sh

## Whole test suite against real servers started on free ports, then torn down.
test:
	bash infra/local/test.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## View counting vs its baselines (ratios printed; see README "Benchmarks").
bench-views:
	bash infra/local/bench.sh views

## Confirm throughput/latency vs the Toss sandbox alone, and one recovery run over 1,000 payments.
bench-payments:
	bash infra/local/bench.sh payments
