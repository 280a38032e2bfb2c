#!/bin/sh
# tools/gen-secrets.sh DIR [OWNER[:GROUP]] -- creates the secrets a tucai
# instance needs, keeping any that already exist (a second `make run` keeps
# its tokens valid).  Also the install step of packages: every file is
# created 0600 for the service user OWNER (default: whoever runs this);
# token_keys is 0640 in GROUP (nginx's, when its master does not run as
# root: it reads the keys at configuration load), DIR 0750 then, else 0700.
#   DIR/token_keys       "k1 <64 hex>"  ([tokens] key_file, nginx tucai_token_keys)
#   DIR/db_password      the MariaDB password of the tucai user, random per
#                        install (the old fixed "tucai" is replaced)
#   DIR/wx_app_secret    the mini-program AppSecret (sandbox value for dev)
set -eu
dir=${1:?usage: gen-secrets.sh DIR [OWNER[:GROUP]]}
owner=${2:-}
mkdir -p "$dir"
chmod 700 "$dir"
umask 077

[ -s "$dir/token_keys" ] || printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$dir/token_keys"
if [ ! -s "$dir/db_password" ] || [ "$(cat "$dir/db_password")" = tucai ]; then
    printf '%s\n' "$(openssl rand -hex 24)" >"$dir/db_password.tmp"
    mv "$dir/db_password.tmp" "$dir/db_password"
fi
[ -s "$dir/wx_app_secret" ] || printf '%s\n' "$(openssl rand -hex 16)" >"$dir/wx_app_secret"

# ---- pay keys (owned by the pay engineer): add merchant key, APIv3 key and
# ---- platform keys below this line, each only if missing.
# WeChat Pay (sandbox for dev/tests): merchant RSA key (worker signs with the
# private half, the sandbox verifies with the public one), its certificate
# serial (fixed: conf/worker.ini.tmpl [pay] merchant_serial names it), the
# 32-character APIv3 key, and the "platform" key pair the sandbox signs with,
# whose id PUB_KEY_ID_<32 digits> is in pay_platform.id (the worker reads it
# next to pay_platform.pub).
if [ ! -s "$dir/pay_merchant.key" ] || [ ! -s "$dir/pay_merchant.pub" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/pay_merchant.key" 2>/dev/null
    openssl pkey -in "$dir/pay_merchant.key" -pubout -out "$dir/pay_merchant.pub"
fi
[ -s "$dir/pay_merchant.serial" ] || echo 5E7A1C0D3B9F42A6B8C1D2E3F4051627384950AB >"$dir/pay_merchant.serial"
[ -s "$dir/pay_apiv3.key" ] || openssl rand -hex 16 | tr -d '\n' >"$dir/pay_apiv3.key"
if [ ! -s "$dir/pay_platform.key" ] || [ ! -s "$dir/pay_platform.pub" ] || [ ! -s "$dir/pay_platform.id" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/pay_platform.key" 2>/dev/null
    openssl pkey -in "$dir/pay_platform.key" -pubout -out "$dir/pay_platform.pub"
    printf 'PUB_KEY_ID_%s\n' "$(head -c 64 /dev/urandom | od -An -tu1 | tr -dc 0-9 | cut -c1-32)" >"$dir/pay_platform.id"
fi
# ---- end of pay keys
# every secret 0600 (files made before this script kept theirs: fix them)
chmod 600 "$dir"/*
if [ -n "$owner" ]; then
    chown -R "$owner" "$dir"
    case $owner in
    *:?*) chmod 640 "$dir/token_keys"; chmod 750 "$dir" ;;
    esac
fi
