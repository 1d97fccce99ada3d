# The two commands of the README: `make start` and `make test`.
.PHONY: setup start test lint typecheck layers unit conformance integration bench

VENV := .venv/bin

setup:
	@./scripts/setup.sh

start: setup
	$(VENV)/pocketkube start

lint: setup
	$(VENV)/ruff check pocketkube tests bench

typecheck: setup
	$(VENV)/mypy

layers: setup
	$(VENV)/lint-imports

test: setup lint typecheck layers
	$(VENV)/pytest -q -p no:cacheprovider tests

bench: setup
	./bench/api
