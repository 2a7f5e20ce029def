#!/usr/bin/env bash
# Build the Binder environment as repo2docker's pip path does, from a fresh clone, and run the course in it as a
# Binder user would: every lesson in lecture mode, first run, under Binder's memory limit. Writes reports/run-cold.md.
#
#   bash scripts/binder_check.sh                       # all lessons (about 40 minutes on 2 cores; machine idle)
#   bash scripts/binder_check.sh --lessons 00,12       # a subset (postBuild then prepares only their samples)
#
# Options: --lessons LIST (comma-separated lesson numbers; default all), --memory-mb N (default 2048, Binder's
# limit), --work DIR (default: a new folder under /tmp), --out FILE (default reports/run-cold.md of this checkout;
# with --lessons, _build/reports/run-cold.md unless given), --keep-work (do not delete DIR at the end).
#
# What it does, in repo2docker's order (https://repo2docker.readthedocs.io, "Configuration files"):
#   1. git clone of HEAD (Binder builds a commit: commit first)       repo2docker: fetches the repository
#   2. python3.11 -m venv                                             runtime.txt: python-3.11
#   3. pip install --no-cache-dir -r binder/requirements.txt          the same command, from the clone's root
#   4. bash binder/postBuild                                          the same file (installs the package, JupyterLab
#                                                                     settings, `mlmc-course data prepare`)
# then `pip check`, the environment's size, and each lesson's first run from a cache holding only what postBuild
# made (MLMC_COURSE_CACHE points into the work folder: it starts empty), one `mlmc-course run NN --mode lecture` per
# lesson in its own memory cgroup limited to --memory-mb, so that its peak and any OOM kill are the lesson's own.
# Last, the development tools are installed into the same environment to measure what leaving them out saves.
#
# Differences from mybinder.org, said in the report: repo2docker installs into a conda environment that already
# holds its own Jupyter server packages (the pins here then replace them); this machine reaches no external index, so
# pip takes CPU-only torch from the local mirror instead of download.pytorch.org (PIP_RETRIES=0 makes the unreachable
# index fail at once instead of after retries); Binder's CPUs are not this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE="$PWD"
ARGS="$*"
# A Binder user's environment: none of the course's development settings (the lessons set what they need).
unset MLMC_COURSE_MODE MLMC_COURSE_THREADS MLMC_COURSE_CACHE MLMC_COURSE_SAMPLE_LOG TF_USE_LEGACY_KERAS MPLBACKEND \
  PYTHONPATH VIRTUAL_ENV

LESSONS=""
MEMORY_MB=2048
WORK=""
OUT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --lessons) LESSONS="$2"; shift 2 ;;
    --memory-mb) MEMORY_MB="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --keep-work) KEEP=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "binder_check: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$OUT" ]; then
  if [ -n "$LESSONS" ]; then OUT="$HERE/_build/reports/run-cold.md"; else OUT="$HERE/reports/run-cold.md"; fi
fi
case "$OUT" in /*) ;; *) OUT="$HERE/$OUT" ;; esac
WORK="${WORK:-$(mktemp -d /tmp/mlmc-binder-check.XXXXXX)}"
mkdir -p "$WORK"
FACTS="$WORK/facts.env"
: > "$FACTS"
fact() { printf '%s=%q\n' "$1" "$2" >> "$FACTS"; }
cleanup() {
  [ -n "${CG:-}" ] && [ -d "$CG" ] && rmdir "$CG" 2>/dev/null || true
  if [ "$KEEP" -eq 0 ]; then rm -rf "$WORK"; else echo "work folder kept: $WORK"; fi
}
trap cleanup EXIT

# pip's complaints about the unreachable CPU-torch index and the mirror's missing pages, not errors
PIP_NOISE="Retrying|NameResolutionError|Could not fetch URL|download.pytorch.org|is ignored: it is neither"
PY="${PYTHON:-python3.11}"
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "binder_check needs Python 3.11" >&2; exit 2; }
[ "$(cat binder/runtime.txt)" = "python-3.11" ] || { echo "binder/runtime.txt is not python-3.11" >&2; exit 1; }

echo "== 1. fresh clone of HEAD ($(git rev-parse --short HEAD)) into $WORK/repo"
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "   (uncommitted changes are not in the clone, as on Binder)"
git clone -q --no-local "$HERE" "$WORK/repo"
fact commit "$(git -C "$WORK/repo" rev-parse --short HEAD)"
cd "$WORK/repo"

echo "== 2. python -m venv (runtime.txt: python-3.11)"
"$PY" -m venv "$WORK/venv"
export PATH="$WORK/venv/bin:$PATH" PIP_RETRIES=0
export MLMC_COURSE_CACHE="$WORK/cache"
mkdir -p "$MLMC_COURSE_CACHE"
fact python "$(python -c 'import platform; print(platform.python_version())')"
fact pip "$(python -m pip --version | cut -d' ' -f2)"

echo "== 3. pip install --no-cache-dir -r binder/requirements.txt"
t0=$SECONDS
{ python -m pip install --no-cache-dir -q -r binder/requirements.txt; echo $? > "$WORK/requirements.rc"; } 2>&1 |
  grep -v -E "$PIP_NOISE" || true
[ "$(cat "$WORK/requirements.rc")" = 0 ] || { echo "binder_check: pip install -r binder/requirements.txt failed" >&2; exit 1; }
fact requirements_s "$((SECONDS - t0))"
fact size_requirements "$(du -sb "$WORK/venv" | cut -f1)"

echo "== 4. bash binder/postBuild (MLMC_COURSE_PREPARE=${LESSONS:-all})"
t0=$SECONDS
if [ -n "$LESSONS" ]; then export MLMC_COURSE_PREPARE="${LESSONS//,/ }"; fi
{ bash binder/postBuild; echo $? > "$WORK/postbuild.rc"; } 2>&1 | tee "$WORK/postbuild.log" | tr '\r' '\n' |
  grep -v -E "it/s\]|event/s\]|$PIP_NOISE" || true
[ "$(cat "$WORK/postbuild.rc")" = 0 ] || { echo "binder_check: binder/postBuild failed" >&2; exit 1; }
unset MLMC_COURSE_PREPARE
fact postbuild_s "$((SECONDS - t0))"
fact prepare_line "$(tr '\r' '\n' < "$WORK/postbuild.log" | grep -E '^data prepare: done' | tail -1)"
fact prepare_head "$(tr '\r' '\n' < "$WORK/postbuild.log" | grep -E '^data prepare: [0-9]+ samples' | tail -1)"

echo "== pip check and the installed set against binder/requirements.txt"
python -m pip check > "$WORK/pipcheck.txt" 2>&1 && fact pip_check "ok" || fact pip_check "$(tr '\n' ';' < "$WORK/pipcheck.txt")"
python "$HERE/scripts/binder_report.py" --installed "$WORK"
ENV_BYTES="$(du -sb "$WORK/venv" | cut -f1)"
fact size_binder "$ENV_BYTES"
du -sb "$WORK"/venv/lib/python3.11/site-packages/* 2>/dev/null | sort -rn | head -8 |
  awk '{n=split($2,a,"/"); printf "%s:%d ", a[n], $1}' > "$WORK/largest.txt"
fact largest "$(cat "$WORK/largest.txt")"
fact cache_after_build "$(du -sb "$MLMC_COURSE_CACHE" | cut -f1)"

echo "== 5. first run of each lesson, lecture mode, under a ${MEMORY_MB} MB memory limit"
LIMIT=$((MEMORY_MB * 1024 * 1024))
CGV1=/sys/fs/cgroup/memory
if [ -w "$CGV1" ] && mkdir "$CGV1/mlmc-binder-check-probe-$$" 2>/dev/null; then
  rmdir "$CGV1/mlmc-binder-check-probe-$$"
  METHOD=cgroup1
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers &&
     mkdir "/sys/fs/cgroup/mlmc-binder-check-probe-$$" 2>/dev/null; then
  rmdir "/sys/fs/cgroup/mlmc-binder-check-probe-$$"
  METHOD=cgroup2
else
  METHOD=prlimit
fi
fact limit_method "$METHOD"
if [ "$METHOD" = cgroup1 ]; then
  # Prove the limit bites: a process that touches 256 MB more than the limit must be killed in such a cgroup.
  CG="$CGV1/mlmc-binder-check-$$-probe"
  mkdir "$CG"
  echo "$LIMIT" > "$CG/memory.limit_in_bytes"
  [ -f "$CG/memory.memsw.limit_in_bytes" ] && echo "$LIMIT" > "$CG/memory.memsw.limit_in_bytes"
  probe_rc=0
  ( echo "$BASHPID" > "$CG/cgroup.procs"
    exec python -c "import sys; b = bytearray(($MEMORY_MB + 256) * 2**20); sys.exit(0)" ) 2>/dev/null || probe_rc=$?
  probe_kills="$(awk '$1=="oom_kill"{print $2}' "$CG/memory.oom_control")"
  rmdir "$CG"; CG=""
  fact limit_probe "a process touching $((MEMORY_MB + 256)) MB exited with $probe_rc, oom_kill $probe_kills"
  [ "$probe_rc" -ne 0 ] || { echo "binder_check: the memory limit did not stop the probe" >&2; exit 1; }
fi
fact memory_mb "$MEMORY_MB"
echo "   memory limit by: $METHOD"
if [ -n "$LESSONS" ]; then
  IFS=',' read -r -a WANT <<< "$LESSONS"
else
  mapfile -t WANT < <(ls solutions | sed -n 's/^\([0-9][0-9]\)_.*\.ipynb$/\1/p')
fi
mkdir -p "$WORK/runs"
for n in "${WANT[@]}"; do
  echo "-- lesson $n"
  run_dir="$WORK/runs/$n"
  mkdir -p "$run_dir"
  cmd=(env MLMC_COURSE_SAMPLE_LOG="$run_dir/requests.jsonl" mlmc-course run "$n" --mode lecture --out "$run_dir")
  rc=0
  case "$METHOD" in
    cgroup1)
      CG="$CGV1/mlmc-binder-check-$$-$n"
      mkdir "$CG"
      echo "$LIMIT" > "$CG/memory.limit_in_bytes"
      # without swap on this machine memsw equals memory; set it anyway so that swap cannot lift the limit
      [ -f "$CG/memory.memsw.limit_in_bytes" ] && echo "$LIMIT" > "$CG/memory.memsw.limit_in_bytes"
      ( echo "$BASHPID" > "$CG/cgroup.procs"; exec "${cmd[@]}" ) > "$run_dir/log" 2>&1 || rc=$?
      {
        echo "max_usage=$(cat "$CG/memory.max_usage_in_bytes")"
        echo "failcnt=$(cat "$CG/memory.failcnt")"
        echo "oom_kill=$(awk '$1=="oom_kill"{print $2}' "$CG/memory.oom_control")"
      } > "$run_dir/cgroup"
      rmdir "$CG"; CG="" ;;
    cgroup2)
      CG="/sys/fs/cgroup/mlmc-binder-check-$$-$n"
      mkdir "$CG"
      echo "$LIMIT" > "$CG/memory.max"
      echo 0 > "$CG/memory.swap.max" 2>/dev/null || true
      ( echo "$BASHPID" > "$CG/cgroup.procs"; exec "${cmd[@]}" ) > "$run_dir/log" 2>&1 || rc=$?
      {
        echo "max_usage=$(cat "$CG/memory.peak" 2>/dev/null || echo 0)"
        echo "failcnt=$(awk '$1=="max"{print $2}' "$CG/memory.events")"
        echo "oom_kill=$(awk '$1=="oom_kill"{print $2}' "$CG/memory.events")"
      } > "$run_dir/cgroup"
      rmdir "$CG"; CG="" ;;
    prlimit)
      prlimit --as="$LIMIT" -- "${cmd[@]}" > "$run_dir/log" 2>&1 || rc=$?
      echo "max_usage=0" > "$run_dir/cgroup" ;;
  esac
  echo "rc=$rc" >> "$run_dir/cgroup"
  tail -n 4 "$run_dir/log" | grep -E "^\| [0-9]" || tail -n 3 "$run_dir/log"
done

echo "== 6. the same environment with the development tools (pip install -e \".[dev]\"), to measure their size"
python -m pip install --no-cache-dir -q -c requirements/lock.txt -e ".[course,tools,dev]" 2>&1 |
  grep -v -E "$PIP_NOISE" || true
fact size_with_dev "$(du -sb "$WORK/venv" | cut -f1)"
fact machine "$(nproc) CPU cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, load $(cut -d' ' -f1-3 /proc/loadavg) at the end"

mkdir -p "$(dirname "$OUT")"
python "$HERE/scripts/binder_report.py" "$WORK" "$OUT" "$ARGS"
echo "wrote $OUT"
python "$HERE/scripts/binder_report.py" --verdict "$WORK"
