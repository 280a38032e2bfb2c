#!/bin/bash
# bench/photo.sh -- check + produce of a 12 MP JPEG (made from a real photo
# by tools/testdata.sh) with build/tucai-check, against (a) `vips thumbnail`
# of the same file (the floor: decode + shrink only) and (b) the same steps
# with Debian's python3-opencv (bench/opencv_pipeline.py), in the same run.
# Median of BENCH_PHOTO_RUNS (default 7) wall times, peak RSS from
# /usr/bin/time.  Targets: faster than (b), RSS < 120 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_PHOTO_RUNS:-7}
TD=build/testdata
bash tools/testdata.sh "$TD" >/dev/null
IMG=$TD/bench_12mp.jpg
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wall seconds and max RSS (KB) of a command, N times
measure() {
    local i t=() r=()
    for ((i = 0; i < N; i++)); do
        /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" >"$OUT/stdout" 2>/dev/null
        read -r s k <"$OUT/time"; t+=("$s"); r+=("$k")
    done
    printf '%s\n' "${t[@]}" | median
    printf '%s\n' "${r[@]}" | sort -n | tail -1
}

mapfile -t ours < <(measure taskset -c 0 build/tucai-check --out "$OUT" "$IMG")
grep -q '"pass":true' "$OUT/stdout" || echo "photo bench: warning: the bench photo did not pass"
mapfile -t floor < <(measure taskset -c 0 vips thumbnail "$IMG" "$OUT/thumb.jpg" 1280)
mapfile -t cv < <(measure taskset -c 0 /usr/bin/python3 bench/opencv_pipeline.py "$IMG" "$OUT/cv.jpg")
# OpenCV's own processing time, imports excluded (the fairer number for it)
cvproc=$(for ((i = 0; i < N; i++)); do taskset -c 0 /usr/bin/python3 bench/opencv_pipeline.py "$IMG" "$OUT/cv.jpg"; done | median)

# our own in-process time (metrics.ms.total), the counterpart of OpenCV's
ourproc=$(for ((i = 0; i < N; i++)); do taskset -c 0 build/tucai-check "$IMG" | grep -o '"total":[0-9.]*' | tail -1 | cut -d: -f2; done | median)
ourproc=$(echo "$ourproc/1000" | bc -l)
# warm: the photo N times in one process (a pool child's steady state:
# libvips, the HOG model and the heap already there), per-photo median
warm=$(taskset -c 0 build/tucai-check --repeat "$N" "$IMG" 2>&1 >/dev/null | grep -o 'median [0-9.]*' | cut -d' ' -f2)
warm=$(echo "${warm:-0}/1000" | bc -l)

echo "photo bench: 12 MP JPEG ($(identify -format '%wx%h' "$IMG")), check + produce, one core, median of $N"
printf '  %-34s %7.3f s  peak RSS %6.1f MB  (processing only: %.4f s)\n' "tucai-check (check+produce)" "${ours[0]}" "$(echo "${ours[1]}/1024" | bc -l)" "$ourproc"
printf '  %-34s %7.3f s  (per photo, median of %d in one process: no start-up)\n' "tucai-check warm (--repeat)" "$warm" "$N"
printf '  %-34s %7.3f s  peak RSS %6.1f MB\n' "(a) vips thumbnail (floor)" "${floor[0]}" "$(echo "${floor[1]}/1024" | bc -l)"
printf '  %-34s %7.3f s  peak RSS %6.1f MB  (processing only: %s s)\n' "(b) python3-opencv pipeline" "${cv[0]}" "$(echo "${cv[1]}/1024" | bc -l)" "$cvproc"
printf '  ratios: tucai/floor %.2f, tucai/opencv %.2f (processing only, both sides: %.2f)\n' \
    "$(echo "${ours[0]}/${floor[0]}" | bc -l)" "$(echo "${ours[0]}/${cv[0]}" | bc -l)" "$(echo "$ourproc/$cvproc" | bc -l)"
# shrink-on-load: a 48 MP JPEG must not cost 48 MP of memory
vips resize "$IMG" "$OUT/48mp.jpg" 2
N=3
mapfile -t big < <(measure taskset -c 0 build/tucai-check "$OUT/48mp.jpg")
printf '  %-34s %7.3f s  peak RSS %6.1f MB\n' "tucai-check on a 48 MP JPEG" "${big[0]}" "$(echo "${big[1]}/1024" | bc -l)"
awk -v r="${ours[1]}" 'BEGIN { if (r / 1024 >= 120) print "  RSS target (< 120 MB): MISSED"; else print "  RSS target (< 120 MB): met" }'
