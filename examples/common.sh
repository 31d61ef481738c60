# Shared by the example scripts: which umbra binary and node to use, and
# small helpers. Run an example against a devnet started with `umbra devnet`:
#   UMBRA_RPC=http://127.0.0.1:9944 examples/email.sh
set -euo pipefail
UMBRA="${UMBRA:-umbra}"
export UMBRA_RPC="${UMBRA_RPC:-http://127.0.0.1:9944}"

say() { printf '\n== %s\n' "$*"; }
u() { "$UMBRA" "$@"; }
# Runs a command that must fail, and shows why.
refused() {
  if out=$("$UMBRA" "$@" 2>&1); then
    echo "expected this to be refused: umbra $*" >&2
    exit 1
  fi
  echo "refused as expected: ${out##*error: }"
}
# A unique suffix so an example can run twice on the same devnet.
RUN="${RUN:-$(date +%s%N | tail -c 7)}"
