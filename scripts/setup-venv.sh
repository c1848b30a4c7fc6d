#!/usr/bin/env bash
# Create .venv (if needed) and install pyvirt into it, editable, with the test extras.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
if [ ! -x "$top/.venv/bin/python" ]; then
    "$python" -m venv "$top/.venv"
fi
"$top/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$top[test]"
# PYTHONDONTWRITEBYTECODE is set on some machines: without a prebuilt cache every process
# would compile pyvirt's sources again (about 100 ms of pyvirsh's start-up).
"$top/.venv/bin/python" -m compileall -q "$top/src/pyvirt"
