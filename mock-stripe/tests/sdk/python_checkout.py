#!/usr/bin/env python3
"""Drives mock-stripe with Stripe's official Python SDK (PyPI `stripe` 16.1.0).

Usage: python3 python_checkout.py http://127.0.0.1:PORT

The app code below is what a shop would write against the real Stripe; the only
mock-specific thing is `base_addresses={"api": BASE}`. (The hosted payment form is
posted directly, as a browser would on the mock's page; the retry checks inject faults
with plain HTTP calls to the mock's `/_config/faults`.) Prints one line per check;
exits 1 with a FAIL line on the first check that does not hold.

Standard library + `stripe` only. Install with: pip install stripe==16.1.0
"""

import http.server
import json
import queue
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

import stripe

EXPECTED_SDK = "16.1.0"
KEY = "sk_test_pythonSdkCheckout0001"
SUCCESS_URL = "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}&via=python"
CANCEL_URL = "https://shop.test/cart"
METADATA = {"order_id": "42", "note": "two shirts & a cap"}


# Fields real Stripe always sends at API 2026-10-28 (the version SDK 16.1.0 pins): those not
# marked optional in the official type definitions. The Python SDK raises AttributeError when
# app code reads a field the response left out, so each must be readable.
SESSION_FIELDS = """id object adaptive_pricing after_expiration allow_promotion_codes
    allowed_payment_method_types amount_subtotal amount_total automatic_tax
    billing_address_collection cancel_url client_reference_id client_secret
    collected_information consent consent_collection created currency currency_conversion
    custom_fields custom_text customer customer_account customer_creation customer_details
    customer_email discounts expires_at integration_identifier invoice invoice_creation
    livemode locale managed_payments metadata mode origin_context payment_intent payment_link
    payment_method_collection payment_method_configuration_details payment_method_options
    payment_method_types payment_status permissions recovered_from
    saved_payment_method_options setup_intent shipping_address_collection shipping_cost
    shipping_options status submit_type subscription success_url total_details ui_mode url
    wallet_options""".split()
PAYMENT_INTENT_FIELDS = """id object allowed_payment_method_types amount amount_capturable
    amount_received application application_fee_amount automatic_payment_methods canceled_at
    cancellation_reason capture_method client_secret confirmation_method created currency
    customer customer_account description excluded_payment_method_types last_payment_error
    latest_charge livemode managed_payments metadata next_action on_behalf_of payment_method
    payment_method_configuration_details payment_method_options payment_method_types
    payment_record processing receipt_email review setup_future_usage shipping source
    statement_descriptor statement_descriptor_suffix status transfer_group""".split()
CHARGE_FIELDS = """id object amount amount_captured amount_refunded application application_fee
    application_fee_amount balance_transaction billing_details calculated_statement_descriptor
    captured created currency customer description disputed failure_balance_transaction
    failure_code failure_message fraud_details livemode metadata on_behalf_of outcome paid
    payment_intent payment_method payment_method_details receipt_email receipt_number
    receipt_url refunded review shipping source source_transfer statement_descriptor
    statement_descriptor_suffix status transfer_data transfer_group""".split()
CARD_DETAILS_FIELDS = """amount_authorized authorization_code brand checks country
    electronic_commerce_indicator exp_month exp_year funding installments last4 mandate network
    network_transaction_id regulated_status three_d_secure transaction_link_id wallet""".split()
LINE_ITEM_FIELDS = """id object adjustable_quantity amount_discount amount_subtotal amount_tax
    amount_total currency description metadata price quantity""".split()
PRICE_FIELDS = """id object active billing_scheme created currency custom_unit_amount livemode
    lookup_key metadata nickname product recurring tax_behavior tiers_mode transform_quantity
    type unit_amount unit_amount_decimal""".split()
PRODUCT_FIELDS = """id object active created description images livemode marketing_features
    metadata name package_dimensions shippable tax_details type updated url""".split()


class CheckFailed(Exception):
    pass


_count = 0


def check(name, cond, detail=""):
    """One printed line per check; raises on failure."""
    global _count
    if not cond:
        raise CheckFailed(f"{name}" + (f": {detail}" if detail else ""))
    _count += 1
    print(f"ok {_count:2} - {name}", flush=True)


def eq(name, actual, expected):
    check(name, actual == expected, f"expected {expected!r}, got {actual!r}")


def readable_fields(name, obj, fields):
    """Every field reads as an attribute (None is fine), as on real Stripe."""
    missing = []
    for f in fields:
        try:
            getattr(obj, f)
        except AttributeError:
            missing.append(f)
    check(f"{name}: all {len(fields)} always-present fields readable", not missing, f"missing {missing}")


def expect_error(name, exc_class, fn):
    """Runs fn, which must raise exactly the SDK exception class `exc_class`."""
    try:
        result = fn()
    except exc_class as e:
        check(f"{name}: raises stripe.{exc_class.__name__}", True)
        return e
    except stripe.StripeError as e:
        raise CheckFailed(
            f"{name}: expected stripe.{exc_class.__name__}, got "
            f"{type(e).__name__} (HTTP {e.http_status}): {e.user_message!r}"
        )
    raise CheckFailed(f"{name}: expected stripe.{exc_class.__name__}, got a result: {result!r}")


# --- a webhook receiver, as a shop would run -------------------------------------------------


class Receiver:
    """A tiny HTTP server on 127.0.0.1:0 recording each POST's raw body and signature."""

    def __init__(self):
        self.got = queue.Queue()
        got = self.got

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                got.put(
                    {
                        "path": self.path,
                        "body": body,
                        "signature": self.headers.get("Stripe-Signature"),
                        "content_type": self.headers.get("Content-Type"),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/stripe/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self, timeout):
        try:
            return self.got.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- a "browser" that posts the hosted form and does not follow the redirect -------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError carrying the 3xx


_browser = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def browser_post(url, fields):
    """POSTs a form; returns (status, headers, body) without following redirects."""
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with _browser.open(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def browser_get(url):
    try:
        with _browser.open(url, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


# --- the mock's control API, over plain HTTP (not part of the SDK) ----------------------------


def control(base, key, method, path, fields=None):
    """Calls `/_config/...` with the account's secret key; returns (status, parsed JSON)."""
    data = urllib.parse.urlencode(fields).encode() if fields is not None else None
    req = urllib.request.Request(
        base + path, data=data, method=method, headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with _browser.open(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def header(headers, name):
    """A response header by name, whatever the case of the stored names."""
    return {k.lower(): v for k, v in (headers or {}).items()}.get(name.lower())


class RecordingClient(stripe.RequestsClient):
    """The SDK's default HTTP client, noting each attempt (retries included) as
    (method, path, Idempotency-Key) before sending it."""

    def __init__(self):
        super().__init__()
        self.attempts = []

    def request(self, method, url, headers, post_data=None, **kwargs):
        self.attempts.append(
            (method.upper(), urllib.parse.urlsplit(url).path, (headers or {}).get("Idempotency-Key"))
        )
        return super().request(method, url, headers, post_data, **kwargs)


# --- the flow --------------------------------------------------------------------------------


def session_params(**overrides):
    params = {
        "mode": "payment",
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "customer_email": "buyer@example.com",
        "client_reference_id": "order_42",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1999,
                    "product_data": {"name": "T-shirt & cap", "description": "Blue, size M"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 500,
                    "product_data": {"name": "Sticker"},
                },
                "quantity": 1,
            },
        ],
        "metadata": METADATA,
    }
    params.update(overrides)
    return params


def run(base):
    eq("SDK version", stripe.VERSION, EXPECTED_SDK)
    client = stripe.StripeClient(KEY, base_addresses={"api": base})
    sessions = client.v1.checkout.sessions

    # Create.
    cs = sessions.create(params=session_params())
    check("create returns a stripe.checkout.Session", isinstance(cs, stripe.checkout.Session), type(cs))
    check("id starts with cs_test_", cs.id.startswith("cs_test_"), cs.id)
    eq("object", cs.object, "checkout.session")
    eq("livemode", cs.livemode, False)
    eq("mode", cs.mode, "payment")
    eq("status", cs.status, "open")
    eq("payment_status", cs.payment_status, "unpaid")
    eq("currency", cs.currency, "usd")
    eq("amount_subtotal", cs.amount_subtotal, 2 * 1999 + 500)
    eq("amount_total", cs.amount_total, 2 * 1999 + 500)
    check("url is set", isinstance(cs.url, str) and cs.url.startswith("http"), cs.url)
    check("url points at the mock", cs.url.startswith(base.rstrip("/") + "/"), cs.url)
    check("payment_intent is None before payment", cs.payment_intent is None, cs.payment_intent)
    eq("success_url verbatim (placeholder kept)", cs.success_url, SUCCESS_URL)
    eq("cancel_url", cs.cancel_url, CANCEL_URL)
    eq("client_reference_id", cs.client_reference_id, "order_42")
    eq("customer_email", cs.customer_email, "buyer@example.com")
    eq("metadata", cs.metadata.to_dict(), METADATA)
    eq("metadata attribute access", cs.metadata["order_id"], "42")
    check("created is an int timestamp", isinstance(cs.created, int) and cs.created > 1_600_000_000, cs.created)
    check("expires_at after created", isinstance(cs.expires_at, int) and cs.expires_at > cs.created, cs.expires_at)
    check("request id exposed", (cs.last_response.request_id or "").startswith("req_"), cs.last_response.request_id)
    eq("HTTP status of create", cs.last_response.code, 200)
    readable_fields("open session", cs, SESSION_FIELDS)
    readable_fields("open session automatic_tax", cs.automatic_tax,
                    ["enabled", "liability", "provider", "status"])

    # Retrieve.
    got = sessions.retrieve(cs.id)
    eq("retrieve: same id", got.id, cs.id)
    eq("retrieve: status", got.status, "open")
    eq("retrieve: amount_total", got.amount_total, cs.amount_total)
    eq("retrieve: metadata", got.metadata.to_dict(), METADATA)
    check("retrieve: line_items not included by default", "line_items" not in got.to_dict(),
          sorted(got.to_dict()))

    expanded = sessions.retrieve(cs.id, params={"expand": ["line_items"]})
    li_list = expanded.line_items
    check("expand[]=line_items: a ListObject", isinstance(li_list, stripe.ListObject), type(li_list))
    eq("expanded line_items url", li_list.url, f"/v1/checkout/sessions/{cs.id}/line_items")

    # Line items, one per page so auto-pagination has to follow `url`.
    page = sessions.line_items.list(cs.id, params={"limit": 1})
    check("line_items.list returns a ListObject", isinstance(page, stripe.ListObject), type(page))
    eq("line items page size", len(page.data), 1)
    eq("line items has_more", page.has_more, True)
    eq("line items url is relative, no query", page.url, f"/v1/checkout/sessions/{cs.id}/line_items")
    items = list(page.auto_paging_iter())
    eq("auto_paging_iter walks every line item", len(items), 2)
    check("line item ids are li_ and distinct",
          all(i.id.startswith("li_") for i in items) and len({i.id for i in items}) == 2,
          [i.id for i in items])
    check("line items are stripe.LineItem", all(isinstance(i, stripe.LineItem) for i in items),
          [type(i) for i in items])
    by_name = {i.description: i for i in items}
    check("line item descriptions are product names", set(by_name) == {"T-shirt & cap", "Sticker"},
          sorted(by_name))
    shirt = by_name["T-shirt & cap"]
    eq("shirt quantity", shirt.quantity, 2)
    eq("shirt amount_total", shirt.amount_total, 3998)
    eq("shirt price.unit_amount", shirt.price.unit_amount, 1999)
    check("shirt price is a stripe.Price with a price_ id",
          isinstance(shirt.price, stripe.Price) and shirt.price.id.startswith("price_"), shirt.price)
    check("shirt price.product is a prod_ id",
          isinstance(shirt.price.product, str) and shirt.price.product.startswith("prod_"),
          shirt.price.product)
    readable_fields("line item", shirt, LINE_ITEM_FIELDS)
    readable_fields("price", shirt.price, PRICE_FIELDS)
    with_products = sessions.line_items.list(cs.id, params={"expand": ["data.price.product"]})
    product = with_products.data[0].price.product
    check("expand[]=data.price.product gives a stripe.Product",
          isinstance(product, stripe.Product) and product.name == "T-shirt & cap", product)
    readable_fields("product", product, PRODUCT_FIELDS)

    # List sessions.
    cs2 = sessions.create(params=session_params(metadata={"order_id": "43"}))
    listed = sessions.list(params={"limit": 1})
    eq("sessions list url", listed.url, "/v1/checkout/sessions")
    eq("sessions list newest first", listed.data[0].id, cs2.id)
    eq("sessions list has_more", listed.has_more, True)
    all_ids = [s.id for s in listed.auto_paging_iter()]
    check("sessions auto_paging_iter yields both, newest first",
          all_ids[:2] == [cs2.id, cs.id] and len(all_ids) == 2, all_ids)
    open_ids = [s.id for s in sessions.list(params={"status": "open", "limit": 100}).data]
    check("sessions list filter status=open", cs.id in open_ids and cs2.id in open_ids, open_ids)

    # Errors.
    bad_client = stripe.StripeClient("sk_test_not-a-valid-key", base_addresses={"api": base})
    e = expect_error("bad API key", stripe.AuthenticationError,
                     lambda: bad_client.v1.checkout.sessions.list())
    eq("bad API key: HTTP 401", e.http_status, 401)
    check("bad API key: message masks the key",
          "Invalid API Key provided" in (e.user_message or "") and "not-a-valid" not in (e.user_message or ""),
          e.user_message)
    pk_client = stripe.StripeClient("pk_test_publishable123", base_addresses={"api": base})
    e = expect_error("publishable key", stripe.AuthenticationError,
                     lambda: pk_client.v1.checkout.sessions.create(params=session_params()))
    # The SDK passes no `code` to AuthenticationError; the parsed body is on `.error`.
    eq("publishable key: error.code", e.error.code, "secret_key_required")
    eq("publishable key: error.type", e.error.type, "invalid_request_error")

    # Connect (`stripe_account`) and an older version (`stripe_version`) per request: a seller's
    # app from before 2022-08-01, with legacy line items.
    seller = {"stripe_account": "acct_1PySeller", "stripe_version": "2020-08-27"}
    legacy = sessions.create(params={
        "mode": "payment", "success_url": SUCCESS_URL, "payment_method_types": ["card"],
        "line_items": [{"name": "Book", "amount": 2900, "currency": "usd", "quantity": 1}],
    }, options=seller)
    eq("legacy line items at 2020-08-27: amount_total", legacy.amount_total, 2900)
    check("before 2022-08-01 the PaymentIntent exists at creation",
          isinstance(legacy.payment_intent, str) and legacy.payment_intent.startswith("pi_"),
          legacy.payment_intent)
    eq("the seller's session, with stripe_account",
       sessions.retrieve(legacy.id, options={"stripe_account": "acct_1PySeller"}).id, legacy.id)
    expect_error("the seller's session is not the platform's", stripe.InvalidRequestError,
                 lambda: sessions.retrieve(legacy.id))
    e = expect_error("malformed stripe_account", stripe.PermissionError,
                     lambda: sessions.list(options={"stripe_account": "seller"}))
    # As for AuthenticationError, the SDK passes no `code`: the parsed body is on `.error`.
    eq("malformed stripe_account: error.code", e.error.code, "account_invalid")
    eq("malformed stripe_account: HTTP 403", e.http_status, 403)

    params = session_params()
    del params["success_url"]
    e = expect_error("missing success_url", stripe.InvalidRequestError,
                     lambda: sessions.create(params=params))
    eq("missing success_url: param", e.param, "success_url")
    eq("missing success_url: code", e.code, "parameter_missing")
    eq("missing success_url: HTTP 400", e.http_status, 400)
    check("missing success_url: request id on the error", (e.request_id or "").startswith("req_"), e.request_id)

    e = expect_error("unknown parameter", stripe.InvalidRequestError,
                     lambda: sessions.create(params=session_params(colour="blue")))
    eq("unknown parameter: param", e.param, "colour")
    eq("unknown parameter: code", e.code, "parameter_unknown")

    bad_items = session_params()
    bad_items["line_items"][1]["price_data"]["flavour"] = "mint"
    e = expect_error("unknown nested parameter", stripe.InvalidRequestError,
                     lambda: sessions.create(params=bad_items))
    eq("unknown nested parameter: full bracket path", e.param, "line_items[1][price_data][flavour]")

    # Newer create parameters typed in SDK 16.1.0 are accepted (and echoed where Stripe does).
    newer = sessions.create(params=session_params(
        integration_identifier="shop-checkout-v2",
        origin_context="web",
        managed_payments={"enabled": False},
        payment_method_data={"allow_redisplay": "always"},
    ))
    eq("integration_identifier echoed", newer.integration_identifier, "shop-checkout-v2")
    eq("origin_context echoed", newer.origin_context, "web")
    eq("managed_payments echoed", newer.managed_payments.enabled, False)
    sessions.expire(newer.id)

    e = expect_error("retrieve unknown session", stripe.InvalidRequestError,
                     lambda: sessions.retrieve("cs_test_doesNotExist"))
    eq("unknown session: HTTP 404", e.http_status, 404)
    eq("unknown session: code", e.code, "resource_missing")

    # Webhook endpoint + payment.
    receiver = Receiver()
    try:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": receiver.url, "enabled_events": ["checkout.session.completed"]}
        )
        check("webhook endpoint is a stripe.WebhookEndpoint",
              isinstance(endpoint, stripe.WebhookEndpoint) and endpoint.id.startswith("we_"), endpoint)
        secret = endpoint.secret
        check("webhook endpoint secret is whsec_", isinstance(secret, str) and secret.startswith("whsec_"), secret)
        eq("webhook endpoint enabled_events", list(endpoint.enabled_events), ["checkout.session.completed"])

        status, page_html = browser_get(cs.url)
        eq("hosted page GET", status, 200)
        check("hosted page has the card form", 'name="cardNumber"' in page_html, page_html[:200])

        status, headers, body = browser_post(
            cs.url,
            {
                "email": "buyer@example.com",
                "cardNumber": "4242 4242 4242 4242",
                "cardExpiry": "12 / 34",
                "cardCvc": "123",
                "billingName": "Jenny Rosen",
            },
        )
        eq("pay with 4242: HTTP 303", status, 303)
        eq("303 Location is success_url with the id substituted",
           headers.get("Location"), SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", cs.id))

        # The mock waits for the first delivery attempt before redirecting; allow slack anyway.
        delivery = receiver.take(timeout=10)
        check("webhook delivered", delivery is not None, "nothing received within 10 s")
        eq("webhook path", delivery["path"], "/stripe/webhook")
        check("webhook content type is JSON",
              (delivery["content_type"] or "").startswith("application/json"), delivery["content_type"])
        sig = delivery["signature"]
        check("Stripe-Signature header present", bool(sig) and "t=" in sig and "v1=" in sig, sig)

        event = stripe.Webhook.construct_event(delivery["body"], sig, secret)
        check("stripe.Webhook.construct_event verifies", isinstance(event, stripe.Event), type(event))
        eq("event type", event.type, "checkout.session.completed")
        check("event id is evt_", event.id.startswith("evt_"), event.id)
        obj = event.data.object
        check("event data.object is a stripe.checkout.Session",
              isinstance(obj, stripe.checkout.Session), type(obj))
        eq("event data.object.id", obj.id, cs.id)
        eq("event data.object.status", obj.status, "complete")
        eq("event data.object.payment_status", obj.payment_status, "paid")
        eq("event data.object.amount_total", obj.amount_total, cs.amount_total)
        eq("event data.object.metadata", obj.metadata.to_dict(), METADATA)
        check("event data.object.payment_intent is pi_",
              isinstance(obj.payment_intent, str) and obj.payment_intent.startswith("pi_"), obj.payment_intent)

        event2 = client.construct_event(delivery["body"], sig, secret)
        eq("StripeClient.construct_event verifies", event2.id, event.id)
        eq("StripeClient.construct_event data.object.id", event2.data.object.id, cs.id)

        e = expect_error("wrong webhook secret", stripe.SignatureVerificationError,
                         lambda: stripe.Webhook.construct_event(delivery["body"], sig, "whsec_wrong"))
        e = expect_error("tampered webhook body", stripe.SignatureVerificationError,
                         lambda: stripe.Webhook.construct_event(
                             delivery["body"].replace(b'"paid"', b'"unpaid"'), sig, secret))

        # Only the enabled event type reaches the endpoint.
        time.sleep(0.3)
        extra = []
        while (d := receiver.take(timeout=0.01)) is not None:
            extra.append(json.loads(d["body"]).get("type"))
        check("no events beyond enabled_events delivered",
              all(t == "checkout.session.completed" for t in extra), extra)
    finally:
        receiver.stop()

    paid = sessions.retrieve(cs.id)
    eq("retrieve after payment: status", paid.status, "complete")
    eq("retrieve after payment: payment_status", paid.payment_status, "paid")
    check("retrieve after payment: payment_intent is pi_",
          isinstance(paid.payment_intent, str) and paid.payment_intent.startswith("pi_"), paid.payment_intent)
    eq("payment_intent matches the event", paid.payment_intent, obj.payment_intent)
    check("customer_details.email recorded",
          paid.customer_details is not None and paid.customer_details.email == "buyer@example.com",
          paid.customer_details)

    readable_fields("completed session", paid, SESSION_FIELDS)
    readable_fields("completed session customer_details", paid.customer_details,
                    ["address", "business_name", "email", "individual_name", "name", "phone",
                     "tax_exempt", "tax_ids"])
    readable_fields("checkout.session.completed data.object", obj, SESSION_FIELDS)

    pi = client.v1.payment_intents.retrieve(paid.payment_intent)
    check("payment intent is a stripe.PaymentIntent", isinstance(pi, stripe.PaymentIntent), type(pi))
    eq("payment intent status", pi.status, "succeeded")
    eq("payment intent amount", pi.amount, cs.amount_total)
    readable_fields("payment intent", pi, PAYMENT_INTENT_FIELDS)
    again = client.v1.payment_intents.retrieve(pi.id, params={"client_secret": pi.client_secret})
    eq("payment intent retrieve with its client_secret", again.id, pi.id)

    deep = sessions.retrieve(cs.id, params={"expand": ["payment_intent.latest_charge"]})
    charge = deep.payment_intent.latest_charge
    check("expand[]=payment_intent.latest_charge gives a stripe.Charge",
          isinstance(charge, stripe.Charge) and charge.id == pi.latest_charge, type(charge))
    eq("charge paid", charge.paid, True)
    eq("charge card last4", charge.payment_method_details.card.last4, "4242")
    readable_fields("charge", charge, CHARGE_FIELDS)
    readable_fields("charge card details", charge.payment_method_details.card, CARD_DETAILS_FIELDS)

    with_pi = sessions.retrieve(cs.id, params={"expand": ["payment_intent"]})
    check("expand[]=payment_intent gives a PaymentIntent",
          isinstance(with_pi.payment_intent, stripe.PaymentIntent) and with_pi.payment_intent.id == pi.id,
          type(with_pi.payment_intent))

    events = client.v1.events.list(params={"type": "checkout.session.completed", "limit": 10})
    check("events list has the completed event",
          any(ev.id == event.id for ev in events.data), [ev.id for ev in events.data])

    # Expire the second session, twice.
    expired = sessions.expire(cs2.id)
    eq("expire: same id", expired.id, cs2.id)
    eq("expire: status", expired.status, "expired")
    eq("expire: payment_status", expired.payment_status, "unpaid")
    check("expire: url cleared", expired.url is None, expired.url)
    e = expect_error("expire an expired session", stripe.InvalidRequestError,
                     lambda: sessions.expire(cs2.id))
    eq("expire twice: HTTP 400", e.http_status, 400)
    check("expire twice: message names the status",
          "expired" in (e.user_message or ""), e.user_message)

    e = expect_error("expire a completed session", stripe.InvalidRequestError,
                     lambda: sessions.expire(cs.id))

    # Update metadata (what a shop does to link an order after the fact).
    updated = sessions.update(cs.id, params={"metadata": {"shipped": "yes", "note": ""}})
    eq("update metadata: key added, empty value unsets",
       updated.metadata.to_dict(), {"order_id": "42", "shipped": "yes"})

    run_retries(base)
    run_payments(base)
    run_catalog(base)


# --- the SDK's automatic retries, against injected faults --------------------------------------

SESSIONS_PATH = "/v1/checkout/sessions"


def retrying_client(base):
    """A client with retries on, for a fresh account (each key is its own account on the
    mock, so its session list holds only what this case created)."""
    key = f"sk_test_pythonSdkRetry{uuid.uuid4().hex}"
    http = RecordingClient()
    client = stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=2,
                                 http_client=http)
    return key, client, http


def inject(base, key, label, **fault):
    status, body = control(base, key, "POST", "/_config/faults",
                           {"target": "api", "path": SESSIONS_PATH, **fault})
    check(f"{label}: fault injected", status == 200 and body.get("object") == "mock_fault", body)


def faults_used_up(base, key, label):
    status, body = control(base, key, "GET", "/_config/faults")
    eq(f"{label}: every injected fault used up", (status, body.get("data")), (200, []))


def only_session(client, label, cs):
    ids = [s.id for s in client.v1.checkout.sessions.list(params={"limit": 100}).data]
    eq(f"{label}: the account holds exactly the one session", ids, [cs.id])


def retried_create(base, label, fault, attempts, replayed):
    """Injects `fault` on /v1/checkout/sessions, creates one session through the SDK with
    max_network_retries=2, and checks that the SDK's retries got it through exactly once."""
    key, client, http = retrying_client(base)
    inject(base, key, label, **fault)
    cs = client.v1.checkout.sessions.create(params=session_params(metadata={"case": label}))
    check(f"{label}: create succeeds through the SDK's retries", cs.id.startswith("cs_test_"), cs.id)
    eq(f"{label}: attempts the SDK made", len(http.attempts), attempts)
    sent = {k for (_, _, k) in http.attempts}
    check(f"{label}: every attempt carried the same Idempotency-Key",
          len(sent) == 1 and None not in sent, http.attempts)
    eq(f"{label}: the answer echoes that key", cs.last_response.idempotency_key, http.attempts[0][2])
    eq(f"{label}: Idempotent-Replayed on the answer",
       header(cs.last_response.headers, "Idempotent-Replayed"), "true" if replayed else None)
    only_session(client, label, cs)
    faults_used_up(base, key, label)


def run_retries(base):
    # An injected 5xx is answered without executing and is not stored under the key: the
    # third attempt runs the create for the first time.
    retried_create(base, "500 twice", {"kind": "status", "status": "500", "count": "2"},
                   attempts=3, replayed=False)
    # The create runs, then the connection closes unanswered: the SDK's retry with the same
    # key gets the stored answer instead of creating a second session.
    retried_create(base, "lost response", {"kind": "timeout", "count": "1"},
                   attempts=2, replayed=True)

    # A 429: the SDKs retry a 429 only when Stripe-Should-Retry says so; the mock says so
    # for injected faults (nothing was executed), so the retry creates the session once.
    retried_create(base, "429 rate_limit", {"kind": "status", "status": "429", "count": "1"},
                   attempts=2, replayed=False)

    # Explicit idempotency keys, as an app sets them.
    label = "idempotency_key"
    key, client, http = retrying_client(base)
    sessions = client.v1.checkout.sessions
    idem = f"python-sdk-explicit-{uuid.uuid4()}"
    params = session_params(metadata={"case": label})
    first = sessions.create(params=params, options={"idempotency_key": idem})
    eq(f"{label}: echoed on the answer", first.last_response.idempotency_key, idem)
    again = sessions.create(params=params, options={"idempotency_key": idem})
    eq(f"{label}: same key and params give the same session", again.id, first.id)
    eq(f"{label}: the second answer is a replay",
       header(again.last_response.headers, "Idempotent-Replayed"), "true")
    e = expect_error(f"{label}: same key, other params", stripe.IdempotencyError,
                     lambda: sessions.create(params=session_params(metadata={"case": "other"}),
                                             options={"idempotency_key": idem}))
    eq(f"{label}: mismatch is HTTP 400", e.http_status, 400)
    eq(f"{label}: mismatch is not retried", len(http.attempts), 3)
    only_session(client, label, first)


# --- the direct PaymentIntents API, PaymentMethods, Charges, Refunds -------------------------

REFUND_FIELDS = """id object amount balance_transaction charge created currency customer
    customer_account metadata payment_intent payment_method reason receipt_number
    source_transfer_reversal status transfer_reversal""".split()
PAYMENT_METHOD_FIELDS = """id object billing_details created customer customer_account livemode
    metadata type""".split()
PAYMENT_EVENTS = """payment_intent.created payment_intent.succeeded payment_intent.payment_failed
    payment_intent.requires_action payment_intent.amount_capturable_updated
    payment_intent.canceled charge.succeeded charge.failed charge.captured charge.refunded
    charge.refund.updated refund.created refund.updated""".split()
EVENT_CLASSES = {"payment_intent": "PaymentIntent", "charge": "Charge", "refund": "Refund"}


def collect_deliveries(receiver, wanted, timeout=10):
    """The first delivery of each event type in `wanted` (they may come in any order)."""
    got = {}
    deadline = time.time() + timeout
    while set(wanted) - set(got):
        left = deadline - time.time()
        d = receiver.take(timeout=max(0.01, left)) if left > 0 else None
        if d is None:
            break
        got.setdefault(json.loads(d["body"])["type"], d)
    return got


def run_payments(base):
    """A custom payment page's server side: PaymentIntents confirmed with Stripe's test
    PaymentMethods (success, decline, 3-D Secure, manual capture, cancel), PaymentMethods,
    Charges, and a refund round trip whose webhooks the SDK's helper verifies."""
    key = f"sk_test_pythonSdkPayments{uuid.uuid4().hex}"
    client = stripe.StripeClient(key, base_addresses={"api": base})
    intents = client.v1.payment_intents
    receiver = Receiver()
    try:
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": receiver.url, "enabled_events": PAYMENT_EVENTS})
        secret = endpoint.secret

        pm = client.v1.payment_methods.create(params={
            "type": "card", "card": {"token": "tok_visa"},
            "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com"}})
        check("payment method is a stripe.PaymentMethod",
              isinstance(pm, stripe.PaymentMethod) and pm.id.startswith("pm_"), pm)
        eq("payment method card last4", pm.card.last4, "4242")
        readable_fields("payment method", pm, PAYMENT_METHOD_FIELDS)
        eq("payment method retrieve", client.v1.payment_methods.retrieve(pm.id).billing_details.name,
           "Jenny Rosen")

        paid = intents.create(params={
            "amount": 2000, "currency": "usd", "payment_method": pm.id, "confirm": True,
            "payment_method_types": ["card"], "metadata": {"order_id": "77"}})
        check("create+confirm: a stripe.PaymentIntent", isinstance(paid, stripe.PaymentIntent), type(paid))
        eq("create+confirm: succeeded", paid.status, "succeeded")
        eq("create+confirm: amount_received", paid.amount_received, 2000)
        eq("create+confirm: the PaymentMethod", paid.payment_method, pm.id)
        readable_fields("confirmed payment intent", paid, PAYMENT_INTENT_FIELDS)
        check("amount_details present", paid.amount_details is not None, paid)
        charge = client.v1.charges.retrieve(paid.latest_charge)
        check("latest_charge is a stripe.Charge", isinstance(charge, stripe.Charge), type(charge))
        readable_fields("charge of the intent", charge, CHARGE_FIELDS)
        eq("charges.list by payment_intent",
           [c.id for c in client.v1.charges.list(params={"payment_intent": paid.id}).data], [charge.id])

        e = expect_error("declined confirm", stripe.CardError, lambda: intents.create(params={
            "amount": 2000, "currency": "usd", "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
            "confirm": True}))
        eq("decline: HTTP 402", e.http_status, 402)
        eq("decline: code", e.code, "card_declined")
        eq("decline: decline_code", e.error.decline_code, "insufficient_funds")
        check("decline: error.charge is ch_", (e.error.charge or "").startswith("ch_"), e.error.charge)
        check("decline: error.payment_intent is a PaymentIntent",
              isinstance(e.error.payment_intent, stripe.PaymentIntent)
              and e.error.payment_intent.status == "requires_payment_method", e.error.payment_intent)
        check("decline: error.payment_method is a PaymentMethod",
              isinstance(e.error.payment_method, stripe.PaymentMethod), e.error.payment_method)
        retried = intents.confirm(e.error.payment_intent.id, params={"payment_method": "pm_card_visa"})
        eq("confirm again with another card", retried.status, "succeeded")

        challenged = intents.create(params={
            "amount": 3000, "currency": "usd", "payment_method": "pm_card_authenticationRequired",
            "confirm": True, "return_url": "https://shop.test/order/9"})
        eq("3-D Secure card: requires_action", challenged.status, "requires_action")
        eq("next_action type", challenged.next_action.type, "redirect_to_url")
        url = challenged.next_action.redirect_to_url.url
        check("redirect_to_url points at the mock", url.startswith(f"{base}/c/3ds/{challenged.id}"), url)
        status, html = browser_get(url)
        check("challenge page", status == 200 and "Complete authentication" in html, html[:200])
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["challenge"][0]
        status, headers, _ = browser_post(f"{base}/c/3ds/{challenged.id}",
                                          {"challenge": token, "outcome": "complete"})
        eq("authenticated: HTTP 303", status, 303)
        back = urllib.parse.urlsplit(headers.get("Location"))
        q = urllib.parse.parse_qs(back.query)
        eq("back to return_url with Stripe's query",
           (back.path, q["payment_intent"], q["redirect_status"]),
           ("/order/9", [challenged.id], ["succeeded"]))
        eq("after 3-D Secure: succeeded", intents.retrieve(challenged.id).status, "succeeded")

        held = intents.create(params={
            "amount": 5000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
            "capture_method": "manual"})
        eq("manual capture: requires_capture", held.status, "requires_capture")
        eq("manual capture: amount_capturable", held.amount_capturable, 5000)
        captured = intents.capture(held.id, params={"amount_to_capture": 4000})
        eq("partial capture: succeeded", (captured.status, captured.amount_received), ("succeeded", 4000))
        e = expect_error("capture twice", stripe.InvalidRequestError, lambda: intents.capture(held.id))
        eq("capture twice: code", e.code, "payment_intent_unexpected_state")

        customer = client.v1.customers.create(params={"email": "jenny@example.com"})
        fresh = intents.create(params={"amount": 1000, "currency": "usd", "customer": customer.id})
        eq("without a payment method", fresh.status, "requires_payment_method")
        canceled = intents.cancel(fresh.id, params={"cancellation_reason": "requested_by_customer"})
        eq("cancel", (canceled.status, canceled.cancellation_reason), ("canceled", "requested_by_customer"))
        eq("list by customer", [p.id for p in intents.list(params={"customer": customer.id}).data],
           [fresh.id])

        # The refund round trip.
        refund = client.v1.refunds.create(params={
            "payment_intent": paid.id, "amount": 500, "reason": "requested_by_customer",
            "metadata": {"rma": "7"}})
        check("refund is a stripe.Refund", isinstance(refund, stripe.Refund) and refund.id.startswith("re_"),
              refund)
        eq("refund status and amount", (refund.status, refund.amount), ("succeeded", 500))
        readable_fields("refund", refund, REFUND_FIELDS)
        e = expect_error("refund more than is left", stripe.InvalidRequestError,
                         lambda: client.v1.refunds.create(params={"charge": charge.id, "amount": 1600}))
        eq("over-refund: param", e.param, "amount")
        rest = client.v1.refunds.create(params={"charge": charge.id})
        eq("refund the rest", rest.amount, 1500)
        after = client.v1.charges.retrieve(charge.id)
        eq("charge amount_refunded and refunded", (after.amount_refunded, after.refunded), (2000, True))
        updated = client.v1.refunds.update(refund.id, params={"metadata": {"rma": "8"}})
        eq("refund update metadata", updated.metadata.to_dict(), {"rma": "8"})
        eq("refunds.list", [r.id for r in client.v1.refunds.list(params={"payment_intent": paid.id}).data],
           [rest.id, refund.id])

        got = collect_deliveries(receiver, PAYMENT_EVENTS)
        eq("every payment event delivered", sorted(got), sorted(PAYMENT_EVENTS))
        for kind, d in sorted(got.items()):
            event = stripe.Webhook.construct_event(d["body"], d["signature"], secret)
            obj = event.data.object
            cls = getattr(stripe, EVENT_CLASSES[obj.object])
            check(f"{kind}: verified, data.object is a stripe.{cls.__name__}",
                  event.type == kind and isinstance(obj, cls), (event.type, type(obj)))
        created = [ev for ev in client.v1.events.list(params={"type": "refund.created"}).data
                   if ev.data.object.id == refund.id]
        eq("refund.created of the refund, caused by its request",
           [ev.request.id for ev in created], [refund.last_response.request_id])
    finally:
        receiver.stop()


# --- products, prices, customers, coupons, promotion codes, search ----------------------------

CUSTOMER_FIELDS = """id object balance created default_source description email invoice_settings
    livemode metadata shipping""".split()
COUPON_FIELDS = """id object amount_off created currency duration duration_in_months livemode
    max_redemptions metadata name percent_off redeem_by times_redeemed valid""".split()
PROMOTION_CODE_FIELDS = """id object active code created customer customer_account expires_at
    livemode max_redemptions metadata promotion restrictions times_redeemed""".split()


def run_catalog(base):
    """What a shop's setup script and checkout do with the catalog: products and prices
    (lookup keys, archiving), customers, a promotion code, a session of prices that makes
    a Customer when paid, and the search endpoints, through the SDK's typed objects."""
    key = f"sk_test_pythonSdkCatalog{uuid.uuid4().hex}"
    client = stripe.StripeClient(key, base_addresses={"api": base})
    v1 = client.v1

    # Products and prices.
    book = v1.products.create(params={"name": "Book", "description": "Hardback",
                                      "metadata": {"sku": "B1"}})
    check("product is a stripe.Product", isinstance(book, stripe.Product) and book.id.startswith("prod_"),
          type(book))
    readable_fields("product", book, PRODUCT_FIELDS)
    std = v1.prices.create(params={"product": book.id, "unit_amount": 1500, "currency": "usd",
                                   "lookup_key": "book_std"})
    check("price is a stripe.Price", isinstance(std, stripe.Price) and std.id.startswith("price_"), type(std))
    eq("price type", std.type, "one_time")
    readable_fields("price", std, PRICE_FIELDS)
    club = v1.prices.create(params={"product_data": {"name": "Book club"}, "unit_amount": 900,
                                    "currency": "usd", "recurring": {"interval": "month"}})
    eq("recurring price interval", club.recurring.interval, "month")
    eq("recurring price type", club.type, "recurring")
    by_key = v1.prices.list(params={"lookup_keys": ["book_std"], "expand": ["data.product"]})
    eq("prices.list by lookup_keys", [p.id for p in by_key.data], [std.id])
    check("expand[]=data.product gives a stripe.Product",
          isinstance(by_key.data[0].product, stripe.Product), type(by_key.data[0].product))
    moved = v1.prices.create(params={"product": book.id, "unit_amount": 1600, "currency": "usd",
                                     "lookup_key": "book_std", "transfer_lookup_key": True})
    eq("transfer_lookup_key moves the key", v1.prices.retrieve(std.id).lookup_key, None)
    eq("the new price holds it", moved.lookup_key, "book_std")
    e = expect_error("lookup_key already used", stripe.InvalidRequestError,
                     lambda: v1.prices.create(params={"product": book.id, "unit_amount": 1,
                                                      "currency": "usd", "lookup_key": "book_std"}))
    eq("lookup_key error param", e.param, "lookup_key")
    archived = v1.prices.update(std.id, params={"active": False})
    eq("archived price", archived.active, False)
    every = list(v1.prices.list(params={"limit": 1}).auto_paging_iter())
    eq("auto_paging_iter walks every price", len(every), 3)

    # Customers.
    jenny = v1.customers.create(params={"email": "jenny@example.com", "name": "Jenny Rosen",
                                        "metadata": {"tier": "gold"}})
    check("customer is a stripe.Customer", isinstance(jenny, stripe.Customer) and jenny.id.startswith("cus_"),
          type(jenny))
    readable_fields("customer", jenny, CUSTOMER_FIELDS)
    jenny = v1.customers.update(jenny.id, params={"phone": "+15555550100"})
    eq("customer update", jenny.phone, "+15555550100")
    sam = v1.customers.create(params={"email": "sam@example.com", "metadata": {"tier": "gold"}})
    eq("customers.list by email", [c.id for c in v1.customers.list(params={"email": "sam@example.com"}).data],
       [sam.id])
    gone = v1.customers.delete(sam.id)
    eq("customer delete: deleted", (gone.id, gone.deleted), (sam.id, True))
    eq("retrieve a deleted customer", v1.customers.retrieve(sam.id).deleted, True)
    e = expect_error("customer with a bad email", stripe.InvalidRequestError,
                     lambda: v1.customers.create(params={"email": "not-an-email"}))
    eq("bad email code", e.code, "email_invalid")

    # Coupons and promotion codes.
    coupon = v1.coupons.create(params={"percent_off": 20, "duration": "once", "name": "Spring"})
    check("coupon is a stripe.Coupon", isinstance(coupon, stripe.Coupon), type(coupon))
    eq("coupon percent_off", coupon.percent_off, 20.0)
    readable_fields("coupon", coupon, COUPON_FIELDS)
    promo = v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                              "code": "SPRING20"})
    check("promotion code is a stripe.PromotionCode", isinstance(promo, stripe.PromotionCode), type(promo))
    eq("promotion.coupon", promo.promotion.coupon, coupon.id)
    readable_fields("promotion code", promo, PROMOTION_CODE_FIELDS)
    eq("promotion_codes.list by code",
       [p.id for p in v1.promotion_codes.list(params={"code": "SPRING20"}).data], [promo.id])
    e = expect_error("unknown coupon", stripe.InvalidRequestError, lambda: v1.coupons.retrieve("NOPE"))
    eq("unknown coupon: HTTP 404", e.http_status, 404)

    # A session of catalog prices, discounted, that makes a Customer when paid.
    sessions = v1.checkout.sessions
    e = expect_error("archived price in a session", stripe.InvalidRequestError,
                     lambda: sessions.create(params={"mode": "payment", "success_url": SUCCESS_URL,
                                                     "line_items": [{"price": std.id, "quantity": 1}]}))
    eq("archived price: param", e.param, "line_items[0][price]")
    e = expect_error("mode=subscription", stripe.InvalidRequestError,
                     lambda: sessions.create(params={"mode": "subscription", "success_url": SUCCESS_URL,
                                                     "line_items": [{"price": club.id, "quantity": 1}]}))
    eq("mode=subscription: param", e.param, "mode")
    cs = sessions.create(params={
        "mode": "payment", "success_url": SUCCESS_URL, "customer_creation": "always",
        "line_items": [{"price": moved.id, "quantity": 2,
                        "adjustable_quantity": {"enabled": True, "maximum": 5}}],
        "discounts": [{"promotion_code": promo.id}],
        "client_reference_id": "order_7", "locale": "fr", "submit_type": "book",
    })
    eq("session of prices: amount_subtotal", cs.amount_subtotal, 3200)
    eq("session of prices: amount_discount", cs.total_details.amount_discount, 640)
    eq("session of prices: amount_total", cs.amount_total, 2560)
    eq("session discounts", cs.discounts[0].promotion_code, promo.id)
    items = sessions.line_items.list(cs.id)
    eq("line item price is the catalog price", items.data[0].price.id, moved.id)
    eq("line item amount_discount", items.data[0].amount_discount, 640)
    eq("line item adjustable_quantity", items.data[0].adjustable_quantity.maximum, 5)
    status, _, _ = browser_post(cs.url, {"email": "buyer@example.com", "cardNumber": "4242 4242 4242 4242",
                                         "cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Jenny Rosen"})
    eq("pay the session of prices: HTTP 303", status, 303)
    paid = sessions.retrieve(cs.id, params={"expand": ["customer", "payment_intent"]})
    check("customer_creation=always: session.customer is a stripe.Customer",
          isinstance(paid.customer, stripe.Customer), type(paid.customer))
    eq("the new customer's email", paid.customer.email, "buyer@example.com")
    eq("charged the discounted total", paid.payment_intent.amount, 2560)
    eq("the PaymentIntent names the customer", paid.payment_intent.customer, paid.customer.id)
    eq("promotion code redeemed", v1.promotion_codes.retrieve(promo.id).times_redeemed, 1)

    # Search.
    found = v1.customers.search(params={"query": "metadata['tier']:'gold'", "limit": 1})
    check("customers.search gives a SearchResultObject",
          isinstance(found, stripe.SearchResultObject), type(found))
    eq("search has_more", found.has_more, False)
    eq("search finds the live gold customer", [c.id for c in found.data], [jenny.id])
    for i in range(3):
        v1.customers.create(params={"email": f"club{i}@example.com", "metadata": {"club": "yes"}})
    walked = list(v1.customers.search(params={"query": "metadata['club']:'yes'", "limit": 1})
                  .auto_paging_iter())
    eq("search auto_paging_iter follows next_page", sorted(c.email for c in walked),
       ["club0@example.com", "club1@example.com", "club2@example.com"])
    intents = v1.payment_intents.search(params={"query": f"customer:'{paid.customer.id}' AND status:'succeeded'"})
    eq("payment_intents.search by customer", [p.id for p in intents.data], [paid.payment_intent.id])
    eq("products.search", [p.id for p in v1.products.search(params={"query": "name:'book' AND active:'true'"}).data],
       [book.id])
    eq("prices.search", [p.id for p in v1.prices.search(params={"query": "lookup_key:'book_std'"}).data],
       [moved.id])
    e = expect_error("bad search query", stripe.InvalidRequestError,
                     lambda: v1.customers.search(params={"query": "email:'a' AND name:'b' OR name:'c'"}))
    eq("bad search query: param", e.param, "query")


def main():
    if len(sys.argv) != 2:
        print("usage: python_checkout.py BASE_URL", file=sys.stderr)
        return 2
    base = sys.argv[1].rstrip("/")
    try:
        run(base)
    except CheckFailed as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    except stripe.StripeError as e:
        print(
            f"FAIL: unexpected {type(e).__name__} (HTTP {e.http_status}, code {e.code}, "
            f"param {getattr(e, 'param', None)}): {e.user_message}",
            flush=True,
        )
        traceback.print_exc()
        return 1
    except Exception as e:  # anything the SDK could not parse or we did not expect
        print(f"FAIL: unexpected {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()
        return 1
    print(f"all {_count} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
