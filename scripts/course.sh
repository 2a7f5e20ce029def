#!/usr/bin/env bash
# One entry point for a fresh machine that has Python 3.11 and pip:
#   bash scripts/course.sh lab    set up (first time only) and open JupyterLab on the start lesson
#   bash scripts/course.sh test   set up (first time only) and run the whole test suite
#   bash scripts/course.sh setup  only set up the environment
# The environment is a virtual environment in .venv (or $MLMC_VENV), installed from requirements/lock.txt, and
# node_modules/ (reveal.js and KaTeX for the decks in slides/), installed by npm from package-lock.json; without
# npm the set-up skips the slides and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${MLMC_VENV:-.venv}"
STAMP="$VENV/.mlmc-course-installed"

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "mlmc-course needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

setup() {
  local want
  want="$(cat requirements/lock.txt pyproject.toml | sha256sum | cut -c1-16)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    return 0
  fi
  local py
  py="$(find_python)"
  echo "Setting up the course environment in $VENV (first time: a few minutes, about 5 GB)..."
  local start=$SECONDS
  [ -x "$VENV/bin/python" ] || "$py" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c requirements/lock.txt -e ".[course,tools,dev]"
  # JupyterLab: no "news" pop-up on first start.
  mkdir -p "$VENV/share/jupyter/lab/settings"
  cp binder/overrides.json "$VENV/share/jupyter/lab/settings/overrides.json"
  echo "$want" > "$STAMP"
  echo "Environment ready in $((SECONDS - start)) s."
}

setup_slides() {
  # reveal.js and KaTeX (with their fonts) for slides/*.html, at the versions package-lock.json pins.
  local want
  want="$(sha256sum package-lock.json | cut -c1-16)"
  if [ -f node_modules/.mlmc-course-installed ] && [ "$(cat node_modules/.mlmc-course-installed)" = "$want" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: skipping the slides' reveal.js and KaTeX, so slides/*.html will not open here." >&2
    echo "  (Install Node.js and npm, then run: bash scripts/course.sh setup.)" >&2
    return 0
  fi
  echo "Installing reveal.js and KaTeX for the slides (npm ci)..."
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.mlmc-course-installed
}

lab() {
  setup
  setup_slides
  exec "$VENV/bin/jupyter" lab --notebook-dir=. notebooks/00_start.ipynb "$@"
}

run_tests() {
  setup
  setup_slides
  # shellcheck disable=SC1091
  source "$VENV/bin/activate"
  export MPLBACKEND=Agg TF_USE_LEGACY_KERAS=1 MLMC_COURSE_MODE=ci
  echo "== ruff"
  ruff check .
  ruff format --check .
  echo "== unit tests, build sync (notebooks and slides), graded checks against recorded wrong answers,"
  echo "   student notebooks, grading, and the browser tests (decks, PDF, JupyterLab; screenshots in _build/)"
  python -m pytest tests -q -p no:cacheprovider
  echo "== every solution notebook under nbval (ci mode), with the run report (time and peak memory per lesson)"
  python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-sanitize-with nbval-sanitize.cfg \
    -p mlmc_course.pytest_run_report --run-report _build/reports solutions/
}

case "${1:-}" in
  setup) setup; setup_slides ;;
  lab) shift; lab "$@" ;;
  test) run_tests ;;
  *) echo "usage: bash scripts/course.sh lab|test|setup" >&2; exit 2 ;;
esac
