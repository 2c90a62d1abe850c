#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv (sourced by run.sh and test.sh).
# The venv is rebuilt only when missing or when requirements.txt / constraints.txt changed.
# DEVICE=gpu (e.g. `DEVICE=gpu ./run.sh`) installs MXNet's CUDA build from requirements-gpu.txt
# instead of the CPU wheel (the CUDA runtime, cuDNN and NCCL must be on the machine).
# gluonext itself is installed editable (pyproject.toml): `import gluonext` works from any
# folder, and tools/*.py run as they are.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"
stamp="$venv/.requirements.sha256"
device="${DEVICE:-cpu}"
case "$device" in
  cpu) pins=("$repo_root/requirements.txt") ;;
  gpu) pins=("$repo_root/requirements.txt" "$repo_root/requirements-gpu.txt") ;;
  *) echo "error: DEVICE=$device: choose cpu or gpu" >&2; return 1 ;;
esac
producers="$repo_root/requirements-producers.txt"  # tests only; their GUI dependencies left out
want="$(cat "${pins[@]}" "$producers" "$repo_root/constraints.txt" | sha256sum | cut -d' ' -f1)"

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: Python 3.11 is required (mxnet 1.9.1 needs numpy<1.24, which has no wheel for 3.12+)." >&2
  echo "       Install python3.11 or point PYTHON at one: PYTHON=/path/to/python3.11 $0" >&2
  return 1
}

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  :  # up to date
else
  py="$(pick_python)"
  echo "[setup] creating $venv with $py (first run or requirements changed)"
  rm -rf "$venv"
  "$py" -m venv "$venv"
  if [ "$device" = gpu ]; then  # requirements.txt without its CPU mxnet, then the GPU build
    "$venv/bin/python" -m pip install --quiet -r <(grep -v '^mxnet==' "$repo_root/requirements.txt") \
      -r "$repo_root/requirements-gpu.txt" -c "$repo_root/constraints.txt"
  else
    "$venv/bin/python" -m pip install --quiet -r "$repo_root/requirements.txt" -c "$repo_root/constraints.txt"
  fi
  "$venv/bin/python" -m pip install --quiet --no-deps -r "$producers"
  "$venv/bin/python" -c 'import mxnet, gluoncv, pycocotools, cv2; print("[setup] mxnet", mxnet.__version__, "gluoncv", gluoncv.__version__)'
  echo "$want" > "$stamp"
fi
# the package itself, editable, with the venv's own setuptools (no download, no re-resolve);
# again whenever the venv does not import this checkout's gluonext (first run, moved clone)
installed="$(cd / && "$venv/bin/python" -c 'import gluonext, os; print(os.path.dirname(gluonext.__path__[0]))' 2>/dev/null || true)"
if [ "$installed" != "$repo_root" ]; then
  "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$repo_root"
  (cd / && "$venv/bin/python" -c 'import gluonext.segmentation, gluonext.detection') ||
    { echo "error: gluonext did not install into $venv" >&2; return 1; }
fi
export PATH="$venv/bin:$PATH"
# MXNet's OpenMP pool: one thread per core, no oversubscription with data workers.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
