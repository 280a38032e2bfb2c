#!/bin/bash
# tools/testdata.sh DIR -- the photo test set: real photos from Debian
# packages (dlib's example faces with ground-truth boxes, skimage's sample
# images, matplotlib's sample portraits; eval/faces_more.json), fetched with
# `apt-get download` and unpacked with `dpkg -x` (no
# install), then generated variants (tools/testdata_gen.py) and the booth
# set (tools/testdata_booth.py).  Idempotent:
# DIR/.done holding the generators' checksum means nothing to do.
set -euo pipefail
DIR=${1:-build/testdata}
GEN=$(cd "$(dirname "$0")" && pwd)/testdata_gen.py
MORE=$(cd "$(dirname "$0")/.." && pwd)/eval/faces_more.json
# .done holds the generators' checksum: a changed generator rebuilds the set
STAMP=$(cat "$GEN" "${GEN%_gen.py}_booth.py" "$MORE" | sha1sum | cut -d' ' -f1)
[ -e "$DIR/.done" ] && [ "$(cat "$DIR/.done")" = "$STAMP" ] && exit 0
rm -f "$DIR/.done"
mkdir -p "$DIR/deb" "$DIR/src"
DIR=$(cd "$DIR" && pwd)
cd "$DIR/deb"
updated=
for p in libdlib19.1 python3-skimage python-matplotlib-data; do
    ls ${p}_*.deb >/dev/null 2>&1 && continue
    apt-get download "$p" 2>/dev/null && continue
    # stale or missing package lists: refresh once, then retry
    [ -z "$updated" ] && { apt-get update -q >/dev/null 2>&1 || true; updated=1; }
    apt-get download "$p" 2>/dev/null || { echo "testdata: cannot download $p" >&2; exit 1; }
done
for f in *.deb; do [ -d "x-${f%%_*}" ] || dpkg -x "$f" "x-${f%%_*}"; done
faces=$(echo x-libdlib19.1/usr/share/doc/libdlib19.1/examples/faces)
sk=$(echo x-python3-skimage/usr/lib/python3/dist-packages/skimage/data)
cp -f "$faces"/*.jpg "$faces"/testing.xml "$faces"/training.xml "$DIR/src/"
# a real head with glasses (US Navy photo, public domain) for the booth set
cp -f x-python-matplotlib-data/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg \
    "$DIR/src/mpl_grace_hopper.jpg"
for f in astronaut.png coffee.png chelsea.png rocket.jpg horse.png coins.png \
         moon.png hubble_deep_field.jpg motorcycle_left.png brick.png; do
    cp -f "$sk/$f" "$DIR/src/sk_$f"
done
# more real faces for the detection eval (eval/faces_more.json names them)
/usr/bin/python3 - "$MORE" "$DIR" <<'EOF'
import json, shutil, sys
more, d = sys.argv[1], sys.argv[2]
for name, f in json.load(open(more))["faces"].items():
    shutil.copyfile(f"{d}/deb/x-{f['package']}/{f['path']}", f"{d}/src/more_{name}")
EOF
/usr/bin/python3 "$GEN" "$DIR"
/usr/bin/python3 "${GEN%_gen.py}_booth.py" "$DIR"
echo "$STAMP" >"$DIR/.done"
