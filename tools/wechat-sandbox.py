#!/usr/bin/python3
"""
wechat-sandbox.py -- a local stand-in for WeChat's mini-program APIs and
WeChat Pay API v3, speaking the wire contracts of ../shared/WECHAT.md, for
tests and `make run` only.  Listens on 127.0.0.1 only.

    wechat-sandbox.py --port N --keys DIR [--state FILE]

Keys (written by tools/gen-secrets.sh, pay section) read from DIR:
    wx_app_secret        the mini-program AppSecret (token calls check it)
    pay_merchant.pub     merchant public key: verifies our Authorization header
    pay_merchant.serial  merchant certificate serial we must send as serial_no
    pay_apiv3.key        32-byte APIv3 key: encrypts notifications
    pay_platform.key     sandbox platform private key: signs every answer
    pay_platform.id      its id, "PUB_KEY_ID_" + 32 digits (Wechatpay-Serial)

Test controls (not part of WeChat):
    GET  /sandbox/stats                 {"calls":{api:n},"fails_left":{api:n}}
    GET  /sandbox/messages              {"messages":[subscribe/send bodies]}
    GET  /sandbox/orders                {"orders":{out_trade_no:{...}}}
    POST /sandbox/reset                 clear stats, messages, failures, refusals
    POST /sandbox/fail {"api","times"[,"mode"]}   next calls of api fail;
         mode "500" | "errcode" (-1) | "drop" (connection closed) | "slow"
         | "hold" (answered normally once POST /sandbox/release comes, or
         after 20 s: a window for races that does not depend on timing)
    POST /sandbox/release               lets held calls go on
         api: jscode2session token stable_token phone subscribe jsapi query
              close notify (notify = /sandbox/pay delivery not attempted)
    POST /sandbox/refuse {"openid"}     subscribe/send to them -> 43101
    POST /sandbox/consent {"openid","template_id"[,"times"]}  the user
         accepted the template in wx.requestSubscribeMessage (times more
         consents).  One-time subscriptions: each message sent uses one;
         without one left subscribe/send answers 43101.  The sandbox cannot
         see the mini-program's request, so a (user, template) it has not
         heard of holds one consent: the first message passes, a second
         needs a new consent
    GET  /sandbox/consents              {"consents":{"openid template":left}}
    POST /sandbox/expire_token          every issued access token -> 42001
    POST /sandbox/config {"notify_url","token_ttl","serial"}  notifications
         go to notify_url instead of the order's (e.g. another nginx);
         token lifetime;
         Wechatpay-Serial to send (e.g. a platform certificate serial for
         the same key) instead of the PUB_KEY_ID_ id
    GET  /sandbox/pay?out_trade_no=X    an HTML page that does the POST below
                                        (the H5 demo links to it under make run)
    POST /sandbox/pay {"out_trade_no"[,"forge","copies","mark_paid",
         "trade_state","resend"]}       mark paid and POST the signed,
         encrypted notification to the order's notify_url; answers
         {"delivered":[{"status","body"}...]}.  forge: bad_signature,
         changed_body, stale, wrong_amount, undecryptable, unknown_serial,
         wrong_mchid, garbage (signed non-JSON), no_resource.  copies: N concurrent deliveries.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAX_BODY = 1 << 20          # a request body larger than this is refused
SIGN_WINDOW = 300           # seconds of clock skew accepted on requests
TOKEN_TTL = 7200

LOCK = threading.RLock()    # one lock for all state: the sandbox is small


def now():
    return int(time.time())


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone(timedelta(hours=8))).isoformat(timespec="seconds")


def parse_rfc3339(s):
    try:
        return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
    except (ValueError, TypeError):
        return None


class Keys:
    def __init__(self, d):
        def rd(name):
            with open(os.path.join(d, name), "rb") as f:
                return f.read()
        self.app_secret = rd("wx_app_secret").decode().strip()
        self.merchant_pub = serialization.load_pem_public_key(rd("pay_merchant.pub"))
        self.merchant_serial = rd("pay_merchant.serial").decode().strip()
        self.apiv3 = rd("pay_apiv3.key").strip()
        if len(self.apiv3) != 32:
            raise SystemExit("pay_apiv3.key must hold 32 bytes")
        self.platform_key = serialization.load_pem_private_key(rd("pay_platform.key"), None)
        self.platform_id = rd("pay_platform.id").decode().strip()
        if not re.fullmatch(r"PUB_KEY_ID_\d{32}", self.platform_id):
            raise SystemExit("pay_platform.id must be PUB_KEY_ID_ + 32 digits")


RELEASE = threading.Event()     # "hold" failures wait for it


class State:
    """Everything the sandbox remembers; persisted to --state when given."""

    def __init__(self, path):
        self.path = path
        self.calls = {}
        self.fails = {}             # api -> [times, mode]
        self.messages = []
        self.refusing = set()
        self.consents = {}          # "openid template" -> consents left
        self.tokens = {}            # token -> expires_at (valid ones only)
        self.current = {}           # kind ("token"/"stable") -> token
        self.orders = {}            # out_trade_no -> order dict
        self.token_seq = 0
        self.notify_override = None  # tests: where notifications really go
        self.serial_override = None  # tests: name the key by a certificate serial
        if path and os.path.exists(path):
            try:
                with open(path) as f:
                    d = json.load(f)
                self.orders = d.get("orders", {})
                self.messages = d.get("messages", [])
                self.consents = d.get("consents", {})
                self.tokens = d.get("tokens", {})
                self.current = d.get("current", {})
                self.token_seq = d.get("token_seq", 0)
            except (OSError, ValueError):
                pass

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"orders": self.orders, "messages": self.messages,
                       "consents": self.consents,
                       "tokens": self.tokens, "current": self.current,
                       "token_seq": self.token_seq}, f)
        os.replace(tmp, self.path)

    def count(self, api):
        self.calls[api] = self.calls.get(api, 0) + 1

    def take_fail(self, api):
        """Returns the failure mode to inject for this call of api, or None."""
        f = self.fails.get(api)
        if not f or f[0] <= 0:
            return None
        f[0] -= 1
        return f[1]


KEYS = None
STATE = None

# Subscribe message value limits (WECHAT.md), by the key's type prefix.
# The subscribe templates the project uses, by their keys (declared once on
# our side in worker/jobs/outbox.c, one renderer each): like WeChat, which
# knows a template's keys, a message whose keys are not exactly one
# template's is refused (47003).
TEMPLATE_KEYS = [
    {"thing1", "phrase2", "time3"},                               # photo_status
    {"character_string1", "amount2", "phrase3", "time4"},         # payment_result
]

# consents a (user, template) pair holds before the sandbox hears of it
# (/sandbox/consent): the one the mini-program's subscriptions step asked for
IMPLICIT_CONSENTS = 1

VALUE_RULES = [
    ("character_string", lambda v: len(v) <= 32 and re.fullmatch(r"[0-9A-Za-z_\-.:#*@ ]*", v)),
    ("thing", lambda v: len(v) <= 20),
    ("number", lambda v: len(v) <= 32 and re.fullmatch(r"[0-9.+-]*", v)),
    ("phrase", lambda v: len(v) <= 5 and all(ord(c) > 0x2e80 for c in v)),
    ("name", lambda v: len(v) <= (20 if v.isascii() else 10)),
    ("time", lambda v: len(v) <= 32),
    ("date", lambda v: len(v) <= 32),
    ("amount", lambda v: len(v) <= 32),
    ("phone_number", lambda v: len(v) <= 17),
    ("letter", lambda v: len(v) <= 32),
    ("symbol", lambda v: len(v) <= 5),
]


def openid_for(code):
    # Stable and openid-shaped: 'o' + 27 url-safe characters.
    h = base64.urlsafe_b64encode(hashlib.sha256(b"sandbox:" + code.encode()).digest())
    return "o" + h.decode()[:27]


def platform_sign(msg):
    sig = KEYS.platform_key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


class DropConnection(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wechat-sandbox"

    def log_message(self, fmt, *args):
        if os.environ.get("SANDBOX_VERBOSE"):
            sys.stderr.write("sandbox: " + (fmt % args) + "\n")

    # ---- plumbing -------------------------------------------------------

    def read_body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.send_raw(413, b'{"errcode":47001,"errmsg":"body too large"}')
            raise DropConnection()
        return self.rfile.read(n)

    def send_raw(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        if body or status != 204:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def send_json(self, status, obj):
        self.send_raw(status, json.dumps(obj, ensure_ascii=False).encode())

    def send_pay(self, status, obj):
        """A Pay v3 answer: every one signed by the platform key."""
        body = b"" if obj is None else json.dumps(obj, ensure_ascii=False).encode()
        ts = str(now())
        nonce = secrets.token_hex(16)
        sig = platform_sign(f"{ts}\n{nonce}\n".encode() + body + b"\n")
        self.send_raw(status, body, extra={
            "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sig, "Wechatpay-Serial": STATE.serial_override or KEYS.platform_id,
            "Request-ID": secrets.token_hex(12)})

    def inject(self, api, pay=False):
        """Counts the call and applies an injected failure; True = answered."""
        with LOCK:
            STATE.count(api)
            mode = STATE.take_fail(api)
        if mode is None:
            return False
        if mode == "drop":
            raise DropConnection()
        if mode == "slow":
            time.sleep(10)
            raise DropConnection()
        if mode == "hold":
            RELEASE.wait(20)
            return False
        if pay or mode == "500":
            if pay:
                self.send_pay(500, {"code": "SYSTEM_ERROR", "message": "系统错误(sandbox)"})
            else:
                self.send_raw(500, b"internal error")
            return True
        self.send_json(200, {"errcode": -1, "errmsg": "system error (sandbox)"})
        return True

    def check_token(self, query):
        tok = query.get("access_token", [""])[0]
        if not tok:
            self.send_json(200, {"errcode": 41001, "errmsg": "access_token missing"})
            return False
        with LOCK:
            exp = STATE.tokens.get(tok)
        if exp is None:
            self.send_json(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
            return False
        if exp <= now():
            self.send_json(200, {"errcode": 42001, "errmsg": "access_token expired"})
            return False
        return True

    def json_body(self, body):
        try:
            d = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return d if isinstance(d, dict) else None

    # ---- dispatch -------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        try:
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            body = self.read_body() if method == "POST" else b""
            p = u.path
            if p.startswith("/sandbox/"):
                return self.control(method, p, body)
            if p == "/sns/jscode2session" and method == "GET":
                return self.jscode2session(q)
            if p == "/cgi-bin/token" and method == "GET":
                return self.token(q)
            if p == "/cgi-bin/stable_token" and method == "POST":
                return self.stable_token(body)
            if p == "/wxa/business/getuserphonenumber" and method == "POST":
                return self.phone(q, body)
            if p == "/cgi-bin/message/subscribe/send" and method == "POST":
                return self.subscribe(q, body)
            if p.startswith("/v3/pay/"):
                return self.pay(method, u, q, body)
            self.send_json(404, {"errcode": 404, "errmsg": "no such api (sandbox)"})
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a sandbox bug must show, not hang the test
            sys.stderr.write(f"sandbox: internal error: {e!r}\n")
            self.close_connection = True
            try:
                self.send_json(500, {"errcode": -1, "errmsg": "sandbox internal error"})
            except OSError:
                pass

    # ---- mini-program APIs ----------------------------------------------

    def jscode2session(self, q):
        if self.inject("jscode2session"):
            return
        code = q.get("js_code", [""])[0]
        if q.get("secret", [""])[0] != KEYS.app_secret:
            return self.send_json(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
        if not code or code.startswith("fail-") or len(code) > 128:
            return self.send_json(200, {"errcode": 40029, "errmsg": "invalid code"})
        self.send_json(200, {"openid": openid_for(code),
                             "session_key": base64.b64encode(os.urandom(16)).decode()})

    def issue_token(self, kind):
        with LOCK:
            old = STATE.current.get(kind)
            if old:
                STATE.tokens.pop(old, None)        # a new token kills the old
            STATE.token_seq += 1
            tok = f"SBX{kind[0].upper()}{STATE.token_seq}_" + secrets.token_urlsafe(96)
            STATE.tokens[tok] = now() + TOKEN_TTL
            STATE.current[kind] = tok
            STATE.save()
        self.send_json(200, {"access_token": tok, "expires_in": TOKEN_TTL})

    def token(self, q):
        if self.inject("token"):
            return
        if q.get("grant_type", [""])[0] != "client_credential":
            return self.send_json(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
        if q.get("secret", [""])[0] != KEYS.app_secret:
            return self.send_json(200, {"errcode": 40001, "errmsg": "invalid appsecret"})
        self.issue_token("token")

    def stable_token(self, body):
        if self.inject("stable_token"):
            return
        d = self.json_body(body)
        if d is None:
            return self.send_json(200, {"errcode": 47001, "errmsg": "data format error"})
        if d.get("grant_type") != "client_credential":
            return self.send_json(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
        if d.get("secret") != KEYS.app_secret:
            return self.send_json(200, {"errcode": 40001, "errmsg": "invalid appsecret"})
        with LOCK:
            cur = STATE.current.get("stable")
            if cur and STATE.tokens.get(cur, 0) > now() + 300 and not d.get("force_refresh"):
                return self.send_json(200, {"access_token": cur,
                                            "expires_in": STATE.tokens[cur] - now()})
        self.issue_token("stable")

    def wx_call(self, api, q, body):
        """Injected failure, access token and JSON body of a WeChat API
        call: the body, or None when the call has been answered already."""
        if self.inject(api) or not self.check_token(q):
            return None
        d = self.json_body(body)
        if d is None:
            self.send_json(200, {"errcode": 47001, "errmsg": "data format error"})
        return d

    def phone(self, q, body):
        d = self.wx_call("phone", q, body)
        if d is None:
            return
        m = re.fullmatch(r"phone:(\d{5,15})", str(d.get("code", "")))
        if not m:
            return self.send_json(200, {"errcode": 40029, "errmsg": "invalid code"})
        n = m.group(1)
        self.send_json(200, {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": n, "purePhoneNumber": n, "countryCode": "86",
            "watermark": {"timestamp": now(), "appid": q.get("appid", ["sandbox"])[0]}}})

    def subscribe(self, q, body):
        d = self.wx_call("subscribe", q, body)
        if d is None:
            return
        touser = d.get("touser")
        if not isinstance(touser, str) or not re.fullmatch(r"[A-Za-z0-9_-]{6,64}", touser):
            return self.send_json(200, {"errcode": 40003, "errmsg": "invalid openid"})
        tpl = d.get("template_id")
        if not isinstance(tpl, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", tpl):
            return self.send_json(200, {"errcode": 40037, "errmsg": "invalid template_id"})
        page = d.get("page", "")
        if page and (not isinstance(page, str) or page.startswith("/") or len(page) > 256):
            return self.send_json(200, {"errcode": 41030, "errmsg": "invalid page"})
        if d.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            return self.send_json(200, {"errcode": 47003, "errmsg": "argument invalid! miniprogram_state"})
        data = d.get("data")
        if not isinstance(data, dict) or not data:
            return self.send_json(200, {"errcode": 47003, "errmsg": "argument invalid! data is empty"})
        if set(data) not in TEMPLATE_KEYS:
            return self.send_json(200, {"errcode": 47003, "errmsg": "argument invalid! data keys "
                                        + ",".join(sorted(data)) + " are no template's"})
        for k, v in data.items():
            val = v.get("value") if isinstance(v, dict) else None
            if not isinstance(val, str) or val == "":
                return self.send_json(200, {"errcode": 47003, "errmsg": f"argument invalid! data.{k}.value is empty"})
            rule = next((r for p, r in VALUE_RULES if re.fullmatch(p + r"\d*", k)), None)
            if rule is None:
                return self.send_json(200, {"errcode": 47003, "errmsg": f"argument invalid! data.{k} unknown key"})
            if not rule(val):
                return self.send_json(200, {"errcode": 47003, "errmsg": f"argument invalid! data.{k}.value invalid"})
        with LOCK:
            if touser in STATE.refusing:
                return self.send_json(200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"})
            # one message per consent (one-time subscriptions)
            key = touser + " " + tpl
            left = STATE.consents.get(key, IMPLICIT_CONSENTS)
            if left <= 0:
                return self.send_json(200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"})
            STATE.consents[key] = left - 1
            msgid = len(STATE.messages) + 1
            STATE.messages.append(dict(d, msgid=msgid, received_at=now()))
            STATE.save()
        self.send_json(200, {"errcode": 0, "errmsg": "ok", "msgid": msgid})

    # ---- Pay v3 ---------------------------------------------------------

    def verify_auth(self, method, u, body):
        """Checks Authorization as WeChat does; returns mchid or None."""
        h = self.headers.get("Authorization", "")
        scheme = "WECHATPAY2-SHA256-RSA2048 "
        if not h.startswith(scheme):
            return None
        fields = dict(re.findall(r'(\w+)="([^"]*)"', h[len(scheme):]))
        need = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
        if any(not fields.get(k) for k in need):
            return None
        if fields["serial_no"] != KEYS.merchant_serial:
            return None
        try:
            ts = int(fields["timestamp"])
            sig = base64.b64decode(fields["signature"], validate=True)
        except ValueError:
            return None
        if abs(now() - ts) > SIGN_WINDOW:
            return None
        url = u.path + ("?" + u.query if u.query else "")
        msg = f"{method}\n{url}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode() + body + b"\n"
        try:
            KEYS.merchant_pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None
        return fields["mchid"]

    def pay(self, method, u, q, body):
        p = u.path
        if p == "/v3/pay/transactions/jsapi" and method == "POST":
            api = "jsapi"
        elif re.fullmatch(r"/v3/pay/transactions/out-trade-no/[^/]+", p) and method == "GET":
            api = "query"
        elif re.fullmatch(r"/v3/pay/transactions/out-trade-no/[^/]+/close", p) and method == "POST":
            api = "close"
        else:
            return self.send_pay(404, {"code": "NOT_FOUND", "message": "no such api"})
        if self.inject(api, pay=True):
            return
        mchid = self.verify_auth(method, u, body)
        if mchid is None:
            return self.send_pay(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        if api == "jsapi":
            return self.jsapi(mchid, body)
        no = urllib.parse.unquote(p.split("/")[5])
        if api == "query":
            if q.get("mchid", [""])[0] != mchid:
                return self.send_pay(400, {"code": "PARAM_ERROR", "message": "mchid mismatch"})
            with LOCK:
                o = STATE.orders.get(no)
                if o is None or o["mchid"] != mchid:
                    return self.send_pay(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
                return self.send_pay(200, transaction_json(o))
        d = self.json_body(body)
        if d is None or d.get("mchid") != mchid:
            return self.send_pay(400, {"code": "PARAM_ERROR", "message": "mchid"})
        with LOCK:
            o = STATE.orders.get(no)
            if o is None or o["mchid"] != mchid:
                return self.send_pay(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
            if o["trade_state"] == "SUCCESS":
                return self.send_pay(400, {"code": "ORDERPAID", "message": "订单已支付"})
            o["trade_state"] = "CLOSED"
            STATE.save()
        self.send_pay(204, None)

    def jsapi(self, mchid, body):
        d = self.json_body(body)
        if d is None:
            return self.send_pay(400, {"code": "PARAM_ERROR", "message": "body is not JSON"})
        if d.get("mchid") != mchid:
            return self.send_pay(400, {"code": "APPID_MCHID_NOT_MATCH", "message": "mchid mismatch"})
        amount = d.get("amount") or {}
        payer = d.get("payer") or {}
        errs = []
        if not isinstance(d.get("appid"), str) or not d["appid"]:
            errs.append("appid")
        if not isinstance(d.get("description"), str) or not 0 < len(d["description"]) <= 127:
            errs.append("description")
        no = d.get("out_trade_no")
        if not isinstance(no, str) or not re.fullmatch(r"[0-9A-Za-z_\-|*]{6,32}", no):
            errs.append("out_trade_no")
        nu = d.get("notify_url")
        if not isinstance(nu, str) or not re.match(r"https?://", nu) or "?" in nu or len(nu) > 255:
            errs.append("notify_url")
        if not isinstance(amount.get("total"), int) or amount["total"] <= 0 \
                or amount.get("currency", "CNY") != "CNY":
            errs.append("amount")
        if not isinstance(payer.get("openid"), str) or not payer["openid"]:
            errs.append("payer.openid")
        te = d.get("time_expire")
        if te is not None and (parse_rfc3339(te) is None or parse_rfc3339(te) <= now()):
            errs.append("time_expire")
        if "attach" in d and (not isinstance(d["attach"], str) or len(d["attach"]) > 128):
            errs.append("attach")
        if errs:
            return self.send_pay(400, {"code": "PARAM_ERROR", "message": "参数错误: " + ",".join(errs),
                                       "detail": {"field": errs[0]}})
        with LOCK:
            o = STATE.orders.get(no)
            if o is not None:
                if o["trade_state"] == "SUCCESS":
                    return self.send_pay(400, {"code": "ORDERPAID", "message": "该订单已支付"})
                if o["trade_state"] == "CLOSED":
                    return self.send_pay(400, {"code": "ORDER_CLOSED", "message": "订单已关闭"})
                if o["total"] != amount["total"] or o["openid"] != payer["openid"]:
                    return self.send_pay(403, {"code": "OUT_TRADE_NO_USED", "message": "商户订单号重复"})
                o["notify_url"] = nu
                o["description"] = d["description"]
            else:
                o = {"appid": d["appid"], "mchid": mchid, "out_trade_no": no,
                     "description": d["description"], "notify_url": nu,
                     "total": amount["total"], "openid": payer["openid"],
                     "attach": d.get("attach", ""), "time_expire": te,
                     "trade_state": "NOTPAY", "created": now(),
                     "prepay_id": "wx" + secrets.token_hex(16)}
                STATE.orders[no] = o
            STATE.save()
            pid = o["prepay_id"]
        self.send_pay(200, {"prepay_id": pid})

    # ---- test controls --------------------------------------------------

    def control(self, method, p, body):
        d = self.json_body(body) if method == "POST" else {}
        if d is None:
            d = {}
        if p == "/sandbox/stats":
            with LOCK:
                return self.send_json(200, {"calls": dict(STATE.calls),
                                            "fails_left": {a: f[0] for a, f in STATE.fails.items()}})
        if p == "/sandbox/messages":
            with LOCK:
                return self.send_json(200, {"messages": list(STATE.messages)})
        if p == "/sandbox/consents" and method == "GET":
            with LOCK:
                return self.send_json(200, {"consents": dict(STATE.consents)})
        if p == "/sandbox/orders":
            with LOCK:
                return self.send_json(200, {"orders": dict(STATE.orders)})
        if p == "/sandbox/pay" and method == "GET":
            return self.pay_page()
        if method != "POST":
            return self.send_json(404, {"error": "NOT_FOUND"})
        if p == "/sandbox/reset":
            with LOCK:
                STATE.calls.clear()
                STATE.fails.clear()
                STATE.messages.clear()
                STATE.refusing.clear()
                STATE.consents.clear()
                STATE.save()
            return self.send_json(200, {"ok": True})
        if p == "/sandbox/fail":
            api = d.get("api")
            times = d.get("times", 1)
            mode = d.get("mode", "default")
            if not isinstance(api, str) or not isinstance(times, int) \
                    or mode not in ("default", "500", "errcode", "drop", "slow", "hold"):
                return self.send_json(400, {"error": "BAD_REQUEST"})
            if mode == "hold":
                RELEASE.clear()
            with LOCK:
                STATE.fails[api] = [times, None if mode == "default" else mode]
                if mode == "default":
                    STATE.fails[api][1] = "errcode"
            return self.send_json(200, {"ok": True})
        if p == "/sandbox/release":
            RELEASE.set()
            return self.send_json(200, {"ok": True})
        if p == "/sandbox/refuse":
            with LOCK:
                STATE.refusing.add(str(d.get("openid")))
            return self.send_json(200, {"ok": True})
        if p == "/sandbox/consent":
            oid, tpl, times = d.get("openid"), d.get("template_id"), d.get("times", 1)
            if not isinstance(oid, str) or not isinstance(tpl, str) \
                    or not isinstance(times, int) or not 0 < times <= 100:
                return self.send_json(400, {"error": "BAD_REQUEST"})
            with LOCK:
                key = oid + " " + tpl
                STATE.consents[key] = STATE.consents.get(key, IMPLICIT_CONSENTS) + times
                STATE.save()
                return self.send_json(200, {"ok": True, "left": STATE.consents[key]})
        if p == "/sandbox/expire_token":
            with LOCK:
                for k in STATE.tokens:
                    STATE.tokens[k] = 0
                STATE.save()
            return self.send_json(200, {"ok": True})
        if p == "/sandbox/pay":
            return self.sandbox_pay(d)
        if p == "/sandbox/config":
            global TOKEN_TTL
            with LOCK:
                if "notify_url" in d:
                    STATE.notify_override = d["notify_url"] or None
                if "serial" in d:
                    STATE.serial_override = d["serial"] or None
                if isinstance(d.get("token_ttl"), int) and d["token_ttl"] > 0:
                    TOKEN_TTL = d["token_ttl"]
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"error": "NOT_FOUND"})

    PAY_PAGE = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        '<title>支付沙箱 / WeChat Pay sandbox</title>'
        '<h1>支付沙箱（演示） / WeChat Pay sandbox (demo)</h1>'
        '<p>这不是微信支付：点击即把订单标记为已支付并发送签名的支付通知。'
        ' Not WeChat Pay: marks the order paid and sends the signed notification.</p>'
        '<form id="f"><label>订单号 out_trade_no <input id="no" size="40"></label> '
        '<button>支付 / pay</button></form><pre id="out"></pre>'
        '<script>var n=new URLSearchParams(location.search).get("out_trade_no");'
        'if(n)document.getElementById("no").value=n;'
        'document.getElementById("f").onsubmit=function(e){e.preventDefault();'
        'fetch("/sandbox/pay",{method:"POST",headers:{"Content-Type":"application/json"},'
        'body:JSON.stringify({out_trade_no:document.getElementById("no").value})})'
        '.then(function(r){return r.text().then(function(t){'
        'document.getElementById("out").textContent=r.status+" "+t;});});};</script></html>')

    def pay_page(self):
        """GET /sandbox/pay: the demo's payment page, on the sandbox's own
        port only (make run does not proxy it: on the public port it would
        let a student mark an order paid)."""
        self.send_raw(200, self.PAY_PAGE.encode(), "text/html; charset=utf-8")

    def sandbox_pay(self, d):
        no = d.get("out_trade_no")
        forge = d.get("forge")
        copies = d.get("copies", 1)
        if not isinstance(copies, int) or not 1 <= copies <= 32:
            return self.send_json(400, {"error": "BAD_REQUEST", "message": "copies 1..32"})
        with LOCK:
            o = STATE.orders.get(no)
            if o is None:
                return self.send_json(404, {"error": "ORDER_NOT_EXIST"})
            if d.get("mark_paid", True) and not forge:
                if o["trade_state"] == "CLOSED":
                    return self.send_json(409, {"error": "ORDER_CLOSED"})
                if o["trade_state"] != "SUCCESS":
                    o["trade_state"] = "SUCCESS"
                    o["transaction_id"] = "42000" + str(now()) + secrets.token_hex(4)
                    o["success_time"] = now()
                    STATE.save()
            tx = transaction_json(o)
            url = STATE.notify_override or o["notify_url"]
            STATE.count("notify")
            if STATE.take_fail("notify"):
                return self.send_json(200, {"delivered": [], "order": tx})
        if d.get("trade_state"):
            tx["trade_state"] = d["trade_state"]
        results = [None] * copies

        def one(i):
            body, headers = build_notification(tx, forge)
            results[i] = post(url, body, headers)

        ths = [threading.Thread(target=one, args=(i,)) for i in range(copies)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        self.send_json(200, {"delivered": results, "order": tx})


def transaction_json(o):
    tx = {"appid": o["appid"], "mchid": o["mchid"], "out_trade_no": o["out_trade_no"],
          "trade_type": "JSAPI", "trade_state": o["trade_state"],
          "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付",
                               "CLOSED": "已关闭"}.get(o["trade_state"], ""),
          "attach": o.get("attach", ""), "payer": {"openid": o["openid"]},
          "amount": {"total": o["total"], "currency": "CNY"}}
    if o["trade_state"] == "SUCCESS":
        tx.update({"transaction_id": o["transaction_id"], "bank_type": "OTHERS",
                   "success_time": rfc3339(o["success_time"])})
        tx["amount"].update({"payer_total": o["total"], "payer_currency": "CNY"})
    return tx


def build_notification(tx, forge):
    """The notification WeChat would POST, optionally forged one way."""
    tx = json.loads(json.dumps(tx))
    if forge and tx["trade_state"] != "SUCCESS":
        # A forgery claims the order was paid.
        tx.update({"trade_state": "SUCCESS", "transaction_id": "4200000000forged",
                   "success_time": rfc3339(now())})
    if forge == "wrong_amount":
        tx["amount"]["total"] += 1
        tx["amount"]["payer_total"] = tx["amount"]["total"]
    if forge == "wrong_mchid":
        tx["mchid"] = "1999999999"
    nonce = secrets.token_urlsafe(9)[:12]
    ad = "transaction"
    key = KEYS.apiv3 if forge != "undecryptable" else os.urandom(32)
    ct = AESGCM(key).encrypt(nonce.encode(), json.dumps(tx, ensure_ascii=False).encode(), ad.encode())
    n = {"id": secrets.token_hex(16), "create_time": rfc3339(now()),
         "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
         "summary": "支付成功",
         "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                      "ciphertext": base64.b64encode(ct).decode(),
                      "associated_data": ad, "nonce": nonce}}
    body = json.dumps(n, ensure_ascii=False).encode()
    if forge == "garbage":
        body = b"\x00\xffnot json{{" + os.urandom(64)   # signed, but not JSON
    if forge == "no_resource":
        del n["resource"]
        body = json.dumps(n, ensure_ascii=False).encode()
    ts = str(now() - (1000 if forge == "stale" else 0))
    hnonce = secrets.token_hex(16)
    sig = platform_sign(f"{ts}\n{hnonce}\n".encode() + body + b"\n")
    if forge == "bad_signature":
        raw = bytearray(base64.b64decode(sig))
        raw[10] ^= 0x55
        sig = base64.b64encode(bytes(raw)).decode()
    if forge == "changed_body":
        # A replay whose body was altered after signing.
        body = body.replace(b'"summary": "', b'"summary": "X')
    serial = STATE.serial_override or KEYS.platform_id
    if forge == "unknown_serial":
        serial = "PUB_KEY_ID_" + "9" * 32
    return body, {"Content-Type": "application/json", "Wechatpay-Timestamp": ts,
                  "Wechatpay-Nonce": hnonce, "Wechatpay-Signature": sig,
                  "Wechatpay-Serial": serial, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return {"status": r.status, "body": r.read().decode("utf-8", "replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode("utf-8", "replace")}
    except (urllib.error.URLError, OSError) as e:
        return {"status": 0, "body": str(e)}


def main():
    global KEYS, STATE, TOKEN_TTL
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--state")
    ap.add_argument("--token-ttl", type=int, default=TOKEN_TTL)
    a = ap.parse_args()
    TOKEN_TTL = a.token_ttl
    KEYS = Keys(a.keys)
    STATE = State(a.state)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    sys.stderr.write(f"wechat-sandbox: listening on 127.0.0.1:{srv.server_address[1]}\n")
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
