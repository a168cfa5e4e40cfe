# Relay — build and test entry points. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.NOTPARALLEL:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

CONFIGURATION ?= Release
SOLUTION      := Relay.sln
RESULTS_DIR   := $(CURDIR)/artifacts/test-results
# A single test that runs longer than this is killed (with a mini dump) so a hang cannot eat the CI budget.
HANG_TIMEOUT  ?= 5m
# Extra arguments for relay-grpc-bench in `make bench`, e.g. make bench ARGS="--duration 10" (BROKER_ARGS for relay-bench)
ARGS          ?=

.PHONY: help prereqs build test clean bench up

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## (.*)/  make \1\t\2/' | expand -t 16

prereqs: ## install what the tests need when missing (Debian packages, npm packages); checks the .NET SDK
	@scripts/prereqs.sh

build: ## build the solution (Release)
	@echo "build: dotnet build $(SOLUTION) -c $(CONFIGURATION)" >&2
	if ! dotnet build $(SOLUTION) -c $(CONFIGURATION) --nologo; then
	  echo "build: FAILED — see the errors above; no tests were run" >&2
	  exit 1
	fi

# Last line of output is the `Tests: N passed, M failed[, K skipped]` summary. Exits non-zero when the
# build fails, a test fails, or `dotnet test` itself fails (e.g. a crashed or hung test host).
test: prereqs build ## prereqs, build, run every test project, print one summary line
	@rm -rf "$(RESULTS_DIR)"
	mkdir -p "$(RESULTS_DIR)"
	echo "test: dotnet test $(SOLUTION) -c $(CONFIGURATION) (results in $(RESULTS_DIR))" >&2
	rc=0
	dotnet test $(SOLUTION) -c $(CONFIGURATION) --no-build --nologo \
	  --logger trx --results-directory "$(RESULTS_DIR)" \
	  --blame-hang-timeout $(HANG_TIMEOUT) --blame-hang-dump-type mini || rc=$$?
	if [[ "$${CI:-}" == true ]]; then dotnet build-server shutdown >/dev/null 2>&1 || true; fi
	if (( rc != 0 )); then
	  echo "test: dotnet test exited with code $$rc (failed tests, or a crashed/hung test host: see above)" >&2
	fi
	src=0
	scripts/test-summary.sh "$(RESULTS_DIR)" || src=$$?
	(( rc == 0 && src == 0 )) || exit 1

clean: ## remove build output and test results (artifacts/, stray bin/ and obj/)
	@rm -rf artifacts
	# projects build into artifacts/ (UseArtifactsOutput); also drop bin/ and obj/ beside any project file
	find src tests bench -name node_modules -prune -o -name '*.csproj' -type f -print0 |
	  while IFS= read -r -d '' p; do rm -rf "$$(dirname "$$p")/bin" "$$(dirname "$$p")/obj"; done

# Both programs refresh their own marked section of docs/benchmarks.md (about 5 min for the gRPC layer, 5–6 min for the
# broker). GRPC_ARGS / BROKER_ARGS pass options to one of them, e.g. make bench BROKER_ARGS="--only ingest --agents 10".
GRPC_ARGS   ?=
BROKER_ARGS ?=
bench: ## run both benchmarks (gRPC layer, broker), print the tables, refresh docs/benchmarks.md; options: GRPC_ARGS=, BROKER_ARGS=
	@rc=0
	dotnet run -c Release --project bench/Grpc.Bench -- --unix --markdown docs/benchmarks.md $(ARGS) $(GRPC_ARGS) || rc=$$?
	# The agent as installed (published, ReadyToRun), so hook-command measures what Claude Code would start.
	dotnet publish src/Agent -c Release -r linux-x64 --self-contained false --nologo -v quiet -o artifacts/publish/relay-agent
	dotnet run -c Release --project bench/Relay.Bench -- --markdown docs/benchmarks.md --agent-dir artifacts/publish/relay-agent $(BROKER_ARGS) || rc=$$?
	if (( rc != 0 )); then echo "bench: a scenario failed its own checks (see above)" >&2; exit 1; fi

# ---------------------------------------------------------------------------------------------------
# A working single-machine Relay in the foreground: the broker on loopback with the embedded PostgreSQL (data
# under .relay/broker, git-ignored; the first start writes .relay/broker/admin.token, mode 0600) and this machine's
# relay-agent, enrolled with it. Logs in .relay/logs. Ctrl+C stops both. See scripts/up.sh.
up: prereqs ## build and run the broker (embedded PostgreSQL) and the local agent in the foreground; Ctrl+C stops
	@CONFIGURATION=$(CONFIGURATION) scripts/up.sh
# ---------------------------------------------------------------------------------------------------
