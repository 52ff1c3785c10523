#!/usr/bin/env bash
# Create (or reuse) the Python virtual environment holding the official Huawei Cloud SDK,
# which the oracle scripts in this directory use.
#
# Usage: bash tests/oracle/setup_venv.sh [VENV_DIR]
#   VENV_DIR defaults to target/oracle-venv under the repository root.
#   A relative VENV_DIR is taken relative to the current directory.
#
# Idempotent: the venv is created only when missing, and pip runs only when the pinned
# versions from requirements.txt are not already importable. All progress output goes to
# stderr; the LAST line on stdout is the path of the venv's python interpreter.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
REQUIREMENTS="$SCRIPT_DIR/requirements.txt"
VENV_DIR="${1:-$REPO_ROOT/target/oracle-venv}"

PY="$VENV_DIR/bin/python"

if [ ! -x "$PY" ]; then
    echo "setup_venv: creating virtual environment in $VENV_DIR" >&2
    mkdir -p "$(dirname "$VENV_DIR")"
    python3 -m venv "$VENV_DIR" >&2
fi
VENV_DIR="$(cd "$VENV_DIR" && pwd)"
PY="$VENV_DIR/bin/python"

# Exit status 0 when every "name==version" pin of requirements.txt is installed at exactly
# that version and the modules the oracle needs import.
pins_satisfied() {
    "$PY" - "$REQUIREMENTS" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib import metadata

with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        if metadata.version(name.strip()) != version.strip():
            sys.exit(1)

import huaweicloudsdkcore.signer.signer  # noqa: F401
import huaweicloudsdkhss.v5  # noqa: F401
PYEOF
}

if pins_satisfied; then
    echo "setup_venv: pinned SDK versions already installed" >&2
else
    echo "setup_venv: installing $REQUIREMENTS" >&2
    "$PY" -m pip install --disable-pip-version-check -q -r "$REQUIREMENTS" >&2
    if ! pins_satisfied; then
        echo "setup_venv: pinned versions still not importable after pip install" >&2
        exit 1
    fi
fi

echo "$PY"
