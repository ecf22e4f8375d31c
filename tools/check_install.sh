#!/usr/bin/env bash
# The library on its own, as a user gets it: `pip install` of the package (not editable)
# into a fresh virtual environment, used from a folder outside the book.
#   1. `python -m interplib.train --list` outside any checkout names the two fixes (exit 2)
#      and writes nothing; with INTERPLIB_ARTIFACTS it lists every artifact as valid;
#   2. two chapter notebooks (the ones Binder and Colab open: notebooks/ once committed)
#      execute with nbconvert there, and every figure carries a mime type a notebook
#      frontend renders (plotly's JSON and an HTML fallback).
#   bash tools/check_install.sh [VENV_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
venv="${1:-$work/venv}"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# from a copy of the package's files, so the build leaves nothing in the checkout
mkdir "$work/src"
cp -r "$repo/interplib" "$repo/pyproject.toml" "$repo/README.md" "$repo/LICENSE" "$work/src/"
"$venv/bin/python" -m pip install -q -c "$repo/requirements-lock.txt" "$work/src" \
  nbconvert ipykernel
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cd "$work"

echo "check_install: --list outside a checkout"
if "$venv/bin/python" -m interplib.train --list >out.txt 2>err.txt; then
  echo "FAIL: --list outside any checkout should fail"; exit 1
fi
grep -q "INTERPLIB_ARTIFACTS" err.txt || { cat err.txt; echo "FAIL: no fix named"; exit 1; }
test ! -e "$site/artifacts" || { echo "FAIL: wrote into site-packages"; exit 1; }

echo "check_install: --list with INTERPLIB_ARTIFACTS"
export INTERPLIB_ARTIFACTS="$repo/artifacts"
"$venv/bin/python" -m interplib.train --list >list.txt
cat list.txt
if awk 'NR > 1 && $3 != "valid" && $3 != "missing"' list.txt | grep -q .; then
  echo "FAIL: an artifact is not valid"; exit 1
fi

for chapter in how-to-read layernorm-logits; do
  # the notebook Binder and Colab open: the reader notebook once committed (make notebooks)
  source="$repo/notebooks/$chapter.ipynb"
  test -e "$source" || source="$repo/chapters/$chapter.ipynb"
  echo "check_install: executing ${source#"$repo/"} outside the repository"
  cp "$source" .
  "$venv/bin/jupyter" nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=1800 "$chapter.ipynb"
  "$venv/bin/python" - "$chapter.ipynb" <<'PY'
import json, sys
nb = json.load(open(sys.argv[1]))
outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
errors = [o for o in outputs if o["output_type"] == "error"]
assert not errors, errors[0]
plotly = "application/vnd.plotly.v1+json"
figures = [o for o in outputs if plotly in o.get("data", {})]
glued = [o for o in outputs if any(k.endswith(plotly) for k in o.get("data", {}))]
assert figures or glued, "no figure output at all"
for o in figures:
    assert "text/html" in o["data"], "a figure without the HTML fallback"
print(f"check_install: {sys.argv[1]}: {len(outputs)} outputs, {len(figures)} shown and "
      f"{len(glued)} glued figures with plotly JSON + HTML, no error")
PY
done
echo "check_install: ok"
