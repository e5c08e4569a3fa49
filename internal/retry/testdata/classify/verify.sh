#!/usr/bin/env bash
# Checks that every "source:" line of the fixtures quotes its source exactly: the quoted text must
# appear on the named line of the named file, in the snapshot below (or at the @revision the line
# names). Run by hand where the sources are at hand; the classification itself is tested by
# TestClassifyFixtures (go test ./internal/retry), which needs none of this.
#
# usage: internal/retry/testdata/classify/verify.sh
#   MIRROR: a directory of bare clones named <owner>+<name>/repo (default /work/.mirror)
#   GOROOT: Go's sources, for "go" lines (default: go env GOROOT); the quotes are from go1.26.8
#   PYLIB:  CPython's library, for "cpython" lines (default /usr/lib/python3.11); quotes are from 3.11.2
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MIRROR=${MIRROR:-/work/.mirror}
GOROOT=${GOROOT:-$(go env GOROOT)}
PYLIB=${PYLIB:-/usr/lib/python3.11}

# The snapshots the fixtures were taken from.
declare -A snapshot=(
  [vmware/govmomi]=fd06160642a8c3609c0cd86e2bc25f2b4e974631
  [vmware/pyvmomi]=debb05118666d07ce38b2527151f738f4fac673e
  [ansible-collections/community.vmware]=502710543622665e016b53c5a526bb989e26fc56
  [curl/curl]=5c61e168698a72b87437d58ed728bcdea6d5db42
  [openssh/openssh-portable]=0ef0f5a839831c213f24e3f2ae434765c607fb50
  [bminor/glibc]=04e750e75b73957cf1c791535a3f4319534a52fc
  [ansible/ansible]=c9ac477e53a99e95781f333eec3329a935c1bf95
)

checked=0
bad=0
for f in "$here"/*.txt; do
  while IFS= read -r line; do
    spec=${line#source: }
    where=${spec%% | *}
    quote=${spec#* | }
    repo=${where%% *}
    loc=${where#* }
    path=${loc%:*}
    n=${loc##*:}
    rev=
    if [[ $repo == *@* ]]; then
      rev=${repo#*@}
      repo=${repo%@*}
    fi
    case $repo in
      go) text=$(sed -n "${n}p" "$GOROOT/$path") ;;
      cpython) text=$(sed -n "${n}p" "$PYLIB/$path") ;;
      *)
        rev=${rev:-${snapshot[$repo]:?unknown repository $repo in $f}}
        text=$(git --git-dir="$MIRROR/${repo/\//+}/repo" show "$rev:$path" | sed -n "${n}p")
        ;;
    esac
    checked=$((checked + 1))
    if [[ $text != *"$quote"* ]]; then
      bad=$((bad + 1))
      echo "$(basename "$f"): $where does not hold: $quote"
      echo "    line $n is: $text"
    fi
  done < <(grep '^source: ' "$f")
done
echo "verify: $checked quotes checked, $bad wrong"
[ "$bad" -eq 0 ]
