#!/usr/bin/env bash
# The README's demo: on a fresh machine, set up nixgen, add two containers to a copy of
# examples/configuration.nix (one inline, one with its own file and profile), build the host
# and the path-route container with real Nix against the stand-in NixOS of the tests into a
# temporary profile directory, and show the resulting profiles. Nothing outside the temporary
# directory changes (apart from the Nix store).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/setup.sh

demo=$(mktemp -d "${TMPDIR:-/tmp}/nixgen-demo.XXXXXX")
cp examples/configuration.nix "$demo/configuration.nix"
nixgen() { "$ROOT/.venv/bin/python" -m nixgen "$@"; }

echo "== demo directory: $demo"
echo "== nixgen add-container foo --port 2022"
nixgen add-container foo --port 2022 -f "$demo/configuration.nix"
echo "== nixgen add-container bar --port 2023 --route path"
nixgen add-container bar --port 2023 --route path -f "$demo/configuration.nix"

echo "== what changed in the configuration"
diff -u examples/configuration.nix "$demo/configuration.nix" || true
echo "== $demo/containers/bar.nix"
cat "$demo/containers/bar.nix"

echo "== nixgen build"
nixgen build -f "$demo/configuration.nix" --nixos "$ROOT/tests/fixtures/nixos" \
  --profile-dir "$demo/profiles" --option substituters ''

echo "== profiles"
ls -l "$demo/profiles" "$demo/profiles/containers"
echo "== host system: $(readlink -f "$demo/profiles/system")"
ls -l "$(readlink -f "$demo/profiles/system")/etc/systemd/system"
