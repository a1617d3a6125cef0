#!/usr/bin/env bash
# Set up everything and run the checks: ruff (lint and format), mypy, the API reference (mkdocs --strict), then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/ruff format --check src tests benchmarks scripts
.venv/bin/mypy
# the API reference from the docstrings, warnings as errors (mkdocs.yml); built to a scratch folder
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
.venv/bin/python -m mkdocs build --strict --quiet --site-dir "$site"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
