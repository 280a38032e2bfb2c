#!/bin/sh
# Installs, with apt only, every package the build, the tests and `make run`
# need. Idempotent: a machine that has them all runs no apt at all.
set -e
PKGS="build-essential pkg-config nginx nginx-dev libnginx-mod-http-ndk libnginx-mod-http-ndk-dev
 libpcre2-dev zlib1g-dev galera-4 rsync iproute2 lsof
 libvips-dev libvips-tools libheif-dev libmariadb-dev mariadb-server mariadb-client
 libcurl4-openssl-dev libssl-dev libjansson-dev libcsv-dev libinih-dev
 libzbar-dev libqrencode-dev libzip-dev libargon2-dev libcmocka-dev
 opencv-data libdlib-dev liblapack-dev wrk curl procps psmisc time bc
 clang libclang-rt-14-dev clang-format
 perl libjson-pp-perl libhttp-tiny-perl
 prometheus debhelper fakeroot lintian systemd
 python3 python3-cryptography python3-opencv python3-numpy
 imagemagick chromium fonts-wqy-microhei"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm vendors the browser libraries (mk/www.mk); a nodejs that already
# brings its own npm (e.g. NodeSource's) must not get Debian's on top.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# The system nginx/mariadb services must not start on install: we run our own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; tmp_policy=1
fi
apt-get update -q || true
apt-get install -y -q --no-install-recommends $missing
[ -n "${tmp_policy:-}" ] && rm -f /usr/sbin/policy-rc.d
exit 0
