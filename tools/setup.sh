#!/usr/bin/env bash
# Set up everything the engine needs on a fresh Debian machine (Python 3.11, no GPU, no
# display): Mesa's EGL/llvmpipe for offscreen OpenGL, a virtual environment in .venv with
# the CPU build of torch, and the project itself (editable).
#   bash tools/setup.sh        # to run the engine
#   bash tools/setup.sh test   # also what the tests need (pytest, hypothesis, ruff, Xvfb,
#                              # and the sensor bridges brainflow and bleak)
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=${1:-}
began=$SECONDS

# Say what is happening: a fresh set-up downloads torch (~200 MB) and takes minutes.
step() { echo "setup: [$((SECONDS - began)) s] $*" >&2; }

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: please install with your package manager: $*" >&2
    return 0
  fi
  step "apt-get update"
  $sudo apt-get update -qq
  step "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Offscreen rendering needs an EGL driver; Mesa's llvmpipe gives OpenGL 4.5 on any CPU.
missing=()
ldconfig -p | grep -q 'libEGL.so.1' || missing+=(libegl1)
ldconfig -p | grep -q 'libEGL_mesa.so.0' || missing+=(libegl-mesa0)
[ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ] || [ -e /usr/lib/aarch64-linux-gnu/dri/swrast_dri.so ] \
  || missing+=(libgl1-mesa-dri)
if [ -n "$want_tests" ]; then
  command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
fi
step "checking system libraries (EGL/Mesa${want_tests:+, Xvfb})"
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python=$candidate
      break
    fi
  done
fi
[ -n "$python" ] || { echo "setup: Python 3.11 or newer is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment .venv ($("$python" --version))"
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check)
# torch pinned to the CPU build served here first; a bare "torch" would pull CUDA (GBs).
if .venv/bin/python -c 'import torch' 2>/dev/null; then
  step "torch already installed"
else
  step "installing torch==2.13.0 (CPU build, ~200 MB; pip shows its progress)"
  "${pip[@]}" --progress-bar on torch==2.13.0
fi
if [ -n "$want_tests" ]; then
  step "installing the project with its test tools and sensor bridges (.[test,sensors])"
  "${pip[@]}" -q -e '.[test,sensors]'
else
  step "installing the project and its dependencies"
  "${pip[@]}" -q -e .
fi
step "done: run .venv/bin/installation --help (or activate the venv: . .venv/bin/activate)"
