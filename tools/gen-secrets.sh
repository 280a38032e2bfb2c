#!/bin/sh
# tools/gen-secrets.sh DIR -- creates the secrets a tucai instance needs,
# keeping any that already exist (a second `make run` keeps its tokens valid).
#   DIR/token_keys       "k1 <64 hex>"  ([tokens] key_file, nginx tucai_token_keys)
#   DIR/db_password      the MariaDB password of the tucai user
#   DIR/wx_app_secret    the mini-program AppSecret (sandbox value for dev)
set -eu
dir=${1:?usage: gen-secrets.sh DIR}
mkdir -p "$dir"
chmod 700 "$dir"
umask 077

[ -s "$dir/token_keys" ] || printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$dir/token_keys"
[ -s "$dir/db_password" ] || printf 'tucai\n' >"$dir/db_password"
[ -s "$dir/wx_app_secret" ] || printf '%s\n' "$(openssl rand -hex 16)" >"$dir/wx_app_secret"

# ---- pay keys (owned by the pay engineer): add merchant key, APIv3 key and
# ---- platform keys below this line, each only if missing.
# ---- end of pay keys
# nginx workers may run as another user; the key file must be readable to
# them, the directory stays closed to everyone else.
chmod 644 "$dir/token_keys"
chmod 711 "$dir"
