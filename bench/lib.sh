# Shared helpers for the benchmark scripts (sourced, not run).
set -euo pipefail

# A clean environment for Python and pip: the machine sets PIP_* and
# PYTHON* variables that would change what is measured.
for v in $(env | grep -oE '^(PIP_|PYTHON)[A-Z_]*' || true); do unset "$v"; done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY311=${PY311:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/3.11.7/bin/python3.11}
RUNS=${RUNS:-3}

# now prints a monotonic-enough timestamp in seconds.
now() { date +%s.%N; }

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# timeit NAME SETUP_FN RUN_FN: runs SETUP_FN then times RUN_FN, RUNS times;
# records the median in the associative array T[NAME].
declare -A T S
timeit() {
  local name=$1 setup=$2 body=$3 i
  for ((i = 0; i < RUNS; i++)); do sample "$name" "$setup" "$body"; done
  report "$name"
}

# sample NAME SETUP_FN RUN_FN: one timed run, appended to S[NAME]. Callers
# that interleave cases (A B A B ...) spread the machine's load over all.
sample() {
  local name=$1 setup=$2 body=$3 t0 t1
  $setup
  sync
  t0=$(now)
  $body >/dev/null 2>&1 || { echo "bench: $name failed; rerun with output:" >&2; $setup; $body; exit 1; }
  t1=$(now)
  S[$name]+="$(echo "$t1 - $t0" | bc -l) "
}

# report NAME: the median of NAME's samples into T[NAME], printed.
report() {
  local name=$1
  T[$name]=$(printf '%s\n' ${S[$name]} | median)
  printf '  %-34s %7.2f s   (runs: %s)\n' "$name" "${T[$name]}" "$(printf '%.2f ' ${S[$name]})"
}

ratio() { echo "scale=2; $1 / $2" | bc -l; }

# build_pipbake puts a fresh pipbake binary at $BIN.
build_pipbake() {
  BIN=$WORK/pipbake
  # At normal priority even when the benchmark runs under chrt -f: the Go
  # linker at real-time priority can starve its own helper threads (a
  # 1-second link ran for 10 minutes).
  local nrt=()
  if command -v chrt >/dev/null && [ "$(chrt -p $$ 2>/dev/null | grep -c SCHED_FIFO)" = 1 ]; then nrt=(chrt -o 0); fi
  (cd "$REPO" && "${nrt[@]}" go build -o "$BIN" ./cmd/pipbake)
}

# corpus makes the repacked corpus under $WORK/corpus (wheels/, all.txt).
corpus() {
  (cd "$REPO" && go run ./bench/corpus -out "$WORK/corpus" -python "$PY311") >&2
  WHEELS=$WORK/corpus/wheels
  LOCK=$WORK/corpus/all.txt
}

# tmpfs_dir mounts a tmpfs (root) or falls back to /dev/shm. It runs in a
# command substitution (a subshell), so cleanup finds its mount under $WORK.
tmpfs_dir() {
  local d=$WORK/tmpfs
  mkdir -p "$d"
  if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4g tmpfs "$d" 2>/dev/null; then
    :
  else
    d=$(mktemp -d /dev/shm/pipbake-bench.XXXXXX)
    echo "$d" >>"$WORK/.shm-dirs"
  fi
  echo "$d"
}

cleanup() {
  if mountpoint -q "$WORK/tmpfs" 2>/dev/null; then umount "$WORK/tmpfs" || umount -l "$WORK/tmpfs"; fi
  if [ -f "$WORK/.shm-dirs" ]; then xargs rm -rf <"$WORK/.shm-dirs"; fi
  rm -rf "$WORK"
}
