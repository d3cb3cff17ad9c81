"""schemathesis hooks for `make fuzz-api` (infra/local/fuzz-api.sh points SCHEMATHESIS_HOOKS here).

The payment routes only reach their logic with orders that exist, belong to the caller and
were paid for at Toss. A link can carry `orderId` and `amount` from checkout to confirm
(the document has those links), but not the `paymentKey`: that comes from the Toss payment
window, which the local Toss sandbox plays with `/sandbox/authenticate`. So these hooks

- create a few orders of the fuzz member when they are loaded (the fixtures), and note
  every order a checkout answers during the run;
- authenticate an order at the sandbox the first time a request uses it (as the member
  paying in the Toss window would), which gives its paymentKey;
- give valid (positive) confirm and status requests those real orders: a confirm whose
  `orderId` is a known order gets that order's paymentKey and amount (a correct client
  sends exactly those), and three in four confirm/status requests naming an unknown order
  are given a known one instead (the fourth keeps its generated id: `404` stays tested);
- let three in four valid `memberId`s name the caller (the fourth still meets
  `403 FORBIDDEN_MEMBER`);
- make three in four valid Idempotency-Keys unique (schemathesis draws few distinct keys,
  so most payment requests would otherwise only meet `422 IDEMPOTENCY_KEY_REUSED`); the
  fourth keeps its key, so replays and 422 stay tested.

Invalid (negative) requests are never changed. Environment (set by fuzz-api.sh):
FUZZ_BASE_URL, FUZZ_BEARER_TOKEN, FUZZ_MEMBER_ID, TOSS_API_BASE (the sandbox),
FUZZ_FIXTURE_ORDERS (default 4).
"""

import itertools
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

import schemathesis
from schemathesis import GenerationMode

CHECKOUT = "POST /api/payments/toss/checkout"
CONFIRM = "POST /api/payments/toss/confirm"
STATUS = "GET /api/payments/toss/{orderId}"

# Toss expires an authenticated payment 10 minutes after authentication unless it is
# confirmed; a key older than this is fetched again (the sandbox then opens a new payment).
KEY_FRESH_SECS = 8 * 60

_BASE = os.environ["FUZZ_BASE_URL"].rstrip("/")
_TOSS = os.environ["TOSS_API_BASE"].rstrip("/")
_TOKEN = os.environ["FUZZ_BEARER_TOKEN"]
_MEMBER = int(os.environ["FUZZ_MEMBER_ID"])

_VALID_KEY = re.compile(r"[!-~]{1,240}")

# Every order of the fuzz member this run knows: orderId -> its facts, in creation order.
_orders = {}
_next_order = itertools.count()
_counters = defaultdict(itertools.count)
_idempotency_calls = itertools.count(1)


def _request(method, url, body=None, headers=()):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def _remember(result):
    """Notes an order from a checkout's `result`."""
    order_id = result.get("orderId")
    if isinstance(order_id, str) and order_id not in _orders:
        _orders[order_id] = {
            "amount": result["amount"],
            "orderName": result["orderName"],
            "clientKey": result["clientKey"],
            "paymentKey": None,
            "authenticatedAt": 0.0,
            "settled": False,
        }


def _create_fixtures(count):
    for i in range(count):
        status, body = _request(
            "POST",
            f"{_BASE}/api/payments/toss/checkout",
            {"amount": 1000 * (i + 1), "orderName": f"퍼즈 주문 {i + 1}"},
            {"content-type": "application/json", "authorization": f"Bearer {_TOKEN}"},
        )
        if status != 200:
            raise RuntimeError(f"fixture checkout answered {status}: {body}")
        _remember(body["result"])


def _payment_key(order_id):
    """The order's paymentKey, authenticating it at the sandbox (the Toss window) if needed."""
    order = _orders[order_id]
    fresh = time.monotonic() - order["authenticatedAt"] < KEY_FRESH_SECS
    if order["paymentKey"] is None or not (order["settled"] or fresh):
        query = urllib.parse.urlencode(
            {
                "orderId": order_id,
                "amount": order["amount"],
                "orderName": order["orderName"],
                "clientKey": order["clientKey"],
            }
        )
        status, body = _request(
            "GET", f"{_TOSS}/sandbox/authenticate?{query}", headers={"accept": "application/json"}
        )
        if status != 200:
            raise RuntimeError(f"sandbox authenticate of {order_id} answered {status}: {body}")
        order["paymentKey"] = body["paymentKey"]
        order["authenticatedAt"] = time.monotonic()
    return order["paymentKey"]


def _known_order():
    """The next known order, round robin."""
    ids = list(_orders)
    return ids[next(_next_order) % len(ids)]


def _is_positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


def _three_in_four(label):
    return next(_counters[label]) % 4 != 3


def _act_as_caller(label, body):
    named = body.get("memberId")
    if type(named) is int and named != _MEMBER and _three_in_four(f"{label} memberId"):
        body["memberId"] = _MEMBER


def _real_confirm(case):
    body = case.body
    if not isinstance(body, dict):
        return
    _act_as_caller(CONFIRM, body)
    order_id = body.get("orderId")
    if order_id not in _orders:
        if not (_orders and _three_in_four(CONFIRM)):
            return
        order_id = _known_order()
        body["orderId"] = order_id
    body["amount"] = _orders[order_id]["amount"]
    body["paymentKey"] = _payment_key(order_id)


def _real_status(case):
    params = case.path_parameters
    if params is None or params.get("orderId") in _orders:
        return
    if _orders and _three_in_four(STATUS):
        params["orderId"] = _known_order()


def _unique_idempotency_key(case):
    n = next(_idempotency_calls)
    for name, value in list((case.headers or {}).items()):
        valid = isinstance(value, str) and _VALID_KEY.fullmatch(value)
        if name.lower() == "idempotency-key" and valid and n % 4:
            case.headers[name] = f"{value}-{n}"


@schemathesis.hook
def before_call(context, case, kwargs):
    label = case.operation.label
    if _is_positive(case):
        if label == CONFIRM:
            _real_confirm(case)
        elif label == STATUS:
            _real_status(case)
        elif label == CHECKOUT and isinstance(case.body, dict):
            _act_as_caller(CHECKOUT, case.body)
    _unique_idempotency_key(case)


@schemathesis.hook
def after_call(context, case, response):
    label = case.operation.label
    if label not in (CHECKOUT, CONFIRM) or response.status_code != 200:
        return
    try:
        result = json.loads(response.content)["result"]
    except (ValueError, KeyError, TypeError):
        return  # not our envelope: the response checks report it
    if not isinstance(result, dict):
        return
    if label == CHECKOUT:
        _remember(result)
    elif result.get("orderId") in _orders:
        # Approved: its paymentKey stays the answer to a repeat, however old.
        _orders[result["orderId"]]["settled"] = True


_create_fixtures(int(os.environ.get("FUZZ_FIXTURE_ORDERS", "4")))
