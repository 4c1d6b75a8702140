#!/usr/bin/env node
// Drives mock-stripe with Stripe's official Node SDK (npm `stripe` 23.1.0).
//
// Usage: node checkout.mjs http://127.0.0.1:PORT
//
// The app code below is what a shop would write against the real Stripe; the only
// mock-specific thing is `new Stripe(key, {host, port, protocol: 'http'})`. (The hosted payment
// form is posted directly, as a browser would on the mock's page; the retry checks inject faults
// with plain `fetch` calls to the mock's `/_config/faults`.) Prints one `ok N - …` line per
// check; exits 1 with a `FAIL: …` line on the first check that does not hold.
//
// Node's standard library + `stripe` only. Install with: npm ci --prefix mock-stripe/tests/sdk/node
//
// What the Node SDK does differently from the Python one (contract §1.4, §1.8, §1.9, §3.4):
// spaces go out as %20, `null` and '' both as `key=`; every POST carries an
// `Idempotency-Key: stripe-node-retry-<uuid>` and failed requests are retried twice; the
// auto-pager re-requests the same path with `starting_after` (or walks backwards with
// `ending_before` when the first request had one); constructEvent takes the raw body Buffer.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { isDeepStrictEqual } from 'node:util';

import Stripe from 'stripe';

const EXPECTED_SDK = '23.1.0';
const EXPECTED_API_VERSION = '2026-10-28.endive';
// Each key is its own account on the mock: a fresh one per run keeps the lists to this run.
const KEY = `sk_test_nodeSdk${randomUUID().replaceAll('-', '')}`;
const SUCCESS_URL = 'https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}&via=node';
const CANCEL_URL = 'https://shop.test/cart';
const EMAIL = 'buyer+node@example.com';
// What the session keeps: `coupon: null` and `gift: ''` go out as `metadata[coupon]=` and
// `metadata[gift]=`, which mean "unset", so they are not stored.
// The greeting is not ASCII: the webhook body is signed over its UTF-8 bytes.
const METADATA = { order_id: '42', note: 'two shirts & a cap', greeting: 'merci, café ☕' };
const METADATA_SENT = { ...METADATA, coupon: null, gift: '' };
// A space and `&` (sent as `T-shirt%20%26%20cap`), and brackets, which Node leaves raw in values.
const SHIRT = 'T-shirt & cap';
const WRAP = 'Gift wrap [red]';

const { errors } = Stripe;

class CheckFailed extends Error {}

let count = 0;

function check(name, cond, detail = '') {
  if (!cond) {
    throw new CheckFailed(detail === '' ? name : `${name}: ${detail}`);
  }
  count += 1;
  console.log(`ok ${String(count).padStart(2)} - ${name}`);
}

const show = (v) => {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

function eq(name, actual, expected) {
  check(name, isDeepStrictEqual(actual, expected), `expected ${show(expected)}, got ${show(actual)}`);
}

function startsWith(name, value, prefix) {
  check(name, typeof value === 'string' && value.startsWith(prefix), show(value));
}

/** Awaits fn(), which must reject with exactly the SDK error class `cls`; returns the error. */
async function expectError(name, cls, fn) {
  let result;
  try {
    result = await fn();
  } catch (e) {
    if (e instanceof cls && e.constructor === cls) {
      check(`${name}: throws ${cls.name}`, true);
      return e;
    }
    throw new CheckFailed(
      `${name}: expected ${cls.name}, got ${e?.constructor?.name} ` +
        `(HTTP ${e?.statusCode}, code ${e?.code}): ${e?.message}`,
    );
  }
  throw new CheckFailed(`${name}: expected ${cls.name}, got a result: ${show(result)}`);
}

/** Runs fn(), which must throw StripeSignatureVerificationError (webhook helpers are sync). */
async function expectSignatureError(name, fn) {
  return expectError(name, errors.StripeSignatureVerificationError, async () => fn());
}

// --- a webhook receiver, as a shop would run --------------------------------------------------

class Receiver {
  constructor() {
    this.got = [];
    this.waiters = [];
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const delivery = {
          method: req.method,
          path: req.url,
          body: Buffer.concat(chunks),
          signature: req.headers['stripe-signature'],
          contentType: req.headers['content-type'],
        };
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
        const waiter = this.waiters.shift();
        if (waiter) {
          waiter(delivery);
        } else {
          this.got.push(delivery);
        }
      });
    });
  }

  async start() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${this.server.address().port}/stripe/webhook`;
  }

  /** The next delivery, or null after `ms`. */
  take(ms) {
    if (this.got.length > 0) {
      return Promise.resolve(this.got.shift());
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, ms);
      const waiter = (d) => {
        clearTimeout(timer);
        resolve(d);
      };
      this.waiters.push(waiter);
    });
  }

  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

// --- the flow ---------------------------------------------------------------------------------

function sessionParams(overrides = {}) {
  return {
    mode: 'payment',
    success_url: SUCCESS_URL,
    cancel_url: CANCEL_URL,
    customer_email: EMAIL,
    client_reference_id: 'order_42',
    line_items: [
      {
        price_data: {
          currency: 'usd',
          unit_amount: 1999,
          product_data: { name: SHIRT, description: 'Blue, size M' },
        },
        quantity: 2,
      },
      {
        price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Sticker' } },
        quantity: 1,
      },
      {
        price_data: { currency: 'usd', unit_amount: 300, product_data: { name: WRAP } },
        quantity: 1,
      },
    ],
    metadata: METADATA_SENT,
    ...overrides,
  };
}

const TOTAL = 2 * 1999 + 500 + 300;

async function collect(iterable) {
  const out = [];
  for await (const item of iterable) {
    out.push(item);
  }
  return out;
}

/** Counts the HTTP attempts and answers the SDK reports: a retry is an attempt without an answer. */
function watch(client) {
  const seen = { attempts: 0, answers: 0, keys: [] };
  client.on('request', (r) => {
    seen.attempts += 1;
    if (r.method === 'POST') {
      seen.keys.push(r.idempotency_key);
    }
  });
  client.on('response', () => {
    seen.answers += 1;
  });
  return seen;
}

async function run(base) {
  const url = new URL(base);
  const config = { host: url.hostname, port: url.port || '80', protocol: 'http' };
  const stripe = new Stripe(KEY, config);
  const traffic = watch(stripe);
  eq('SDK version', Stripe.PACKAGE_VERSION, EXPECTED_SDK);

  // Create.
  const cs = await stripe.checkout.sessions.create(sessionParams());
  startsWith('id starts with cs_test_', cs.id, 'cs_test_');
  eq('object', cs.object, 'checkout.session');
  eq('livemode', cs.livemode, false);
  eq('mode', cs.mode, 'payment');
  eq('status', cs.status, 'open');
  eq('payment_status', cs.payment_status, 'unpaid');
  eq('currency', cs.currency, 'usd');
  eq('amount_subtotal', cs.amount_subtotal, TOTAL);
  eq('amount_total', cs.amount_total, TOTAL);
  startsWith('url points at the mock', cs.url, `${base}/`);
  eq('payment_intent is null before payment', cs.payment_intent, null);
  eq('success_url verbatim (placeholder kept)', cs.success_url, SUCCESS_URL);
  eq('cancel_url', cs.cancel_url, CANCEL_URL);
  eq('client_reference_id', cs.client_reference_id, 'order_42');
  eq('customer_email with + (%2B)', cs.customer_email, EMAIL);
  eq('metadata: null and empty values (key=) are not stored', cs.metadata, METADATA);
  check('created is a unix timestamp', Number.isInteger(cs.created) && cs.created > 1.6e9, cs.created);
  check('expires_at after created', Number.isInteger(cs.expires_at) && cs.expires_at > cs.created, cs.expires_at);
  startsWith('lastResponse.requestId', cs.lastResponse.requestId, 'req_');
  eq('lastResponse.statusCode', cs.lastResponse.statusCode, 200);
  eq('lastResponse.apiVersion (the pinned version)', cs.lastResponse.apiVersion, EXPECTED_API_VERSION);
  startsWith('automatic Idempotency-Key echoed', cs.lastResponse.idempotencyKey, 'stripe-node-retry-');
  eq('line_items not included by default', 'line_items' in cs, false);

  // API versions: the SDK pins one; a client or a single request may ask for another.
  eq('ui_mode at the pinned version', cs.ui_mode, 'hosted_page');
  const basil = new Stripe(KEY, { ...config, apiVersion: '2025-03-31.basil' });
  const old = await basil.checkout.sessions.retrieve(cs.id);
  eq('client apiVersion option: sent and echoed', old.lastResponse.apiVersion, '2025-03-31.basil');
  eq('ui_mode rendered at 2025-03-31.basil', old.ui_mode, 'hosted');
  const perRequest = await stripe.checkout.sessions.retrieve(cs.id, {}, { apiVersion: '2025-03-31.basil' });
  eq('per-request apiVersion option', perRequest.ui_mode, 'hosted');

  // Connect: `stripeAccount` (per request or per client) acts on a connected account.
  const seller = 'acct_1NodeSeller';
  const sellerCs = await stripe.checkout.sessions.create(sessionParams(), { stripeAccount: seller });
  await expectError("a connected account's session is not the platform's", errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.retrieve(sellerCs.id),
  );
  const sellerClient = new Stripe(KEY, { ...config, stripeAccount: seller });
  eq('stripeAccount client option: the seller sees it', (await sellerClient.checkout.sessions.retrieve(sellerCs.id)).id, sellerCs.id);
  await expectError('malformed Stripe-Account', errors.StripePermissionError, () =>
    stripe.checkout.sessions.list({}, { stripeAccount: 'seller' }),
  );

  // Retrieve.
  const got = await stripe.checkout.sessions.retrieve(cs.id);
  eq('retrieve: same id', got.id, cs.id);
  eq('retrieve: status', got.status, 'open');
  eq('retrieve: amount_total', got.amount_total, TOTAL);
  eq('retrieve: metadata', got.metadata, METADATA);
  eq('retrieve: no Idempotency-Key on GET', got.lastResponse.idempotencyKey, undefined);
  const expanded = await stripe.checkout.sessions.retrieve(cs.id, { expand: ['line_items'] });
  eq('expand[0]=line_items: a list', expanded.line_items?.object, 'list');
  eq('expanded line_items url', expanded.line_items.url, `/v1/checkout/sessions/${cs.id}/line_items`);
  eq('expanded line_items count', expanded.line_items.data.length, 3);

  // Line items, one per page, so the auto-pager has to turn pages.
  const page = await stripe.checkout.sessions.listLineItems(cs.id, { limit: 1 });
  eq('listLineItems: object', page.object, 'list');
  eq('listLineItems: page size', page.data.length, 1);
  eq('listLineItems: has_more', page.has_more, true);
  eq('listLineItems: url is relative, no query', page.url, `/v1/checkout/sessions/${cs.id}/line_items`);
  const items = await collect(stripe.checkout.sessions.listLineItems(cs.id, { limit: 1 }));
  eq('for await walks every line item', items.length, 3);
  check(
    'line item ids are li_ and distinct',
    items.every((i) => i.id.startsWith('li_')) && new Set(items.map((i) => i.id)).size === 3,
    show(items.map((i) => i.id)),
  );
  eq(
    'line items in creation order; names decoded (%20, %26, raw brackets)',
    items.map((i) => i.description),
    [SHIRT, 'Sticker', WRAP],
  );
  const arr = await stripe.checkout.sessions.listLineItems(cs.id, { limit: 1 }).autoPagingToArray({ limit: 10 });
  eq('autoPagingToArray gives the same items', arr.map((i) => i.id), items.map((i) => i.id));
  const capped = await stripe.checkout.sessions.listLineItems(cs.id, { limit: 1 }).autoPagingToArray({ limit: 2 });
  eq('autoPagingToArray stops at its limit', capped.map((i) => i.id), items.slice(0, 2).map((i) => i.id));
  const back = await collect(
    stripe.checkout.sessions.listLineItems(cs.id, { limit: 1, ending_before: items[2].id }),
  );
  eq(
    'ending_before: the auto-pager walks backwards one page at a time',
    back.map((i) => i.id),
    [items[1].id, items[0].id],
  );
  const [shirt] = items;
  eq('shirt object', shirt.object, 'item');
  eq('shirt quantity', shirt.quantity, 2);
  eq('shirt amount_total', shirt.amount_total, 3998);
  eq('shirt price.unit_amount', shirt.price.unit_amount, 1999);
  startsWith('shirt price id', shirt.price.id, 'price_');
  startsWith('shirt price.product is a prod_ id', shirt.price.product, 'prod_');
  const withProducts = await stripe.checkout.sessions.listLineItems(cs.id, { expand: ['data.price.product'] });
  eq('expand data.price.product: product name', withProducts.data[0].price.product.name, SHIRT);

  // List sessions: three, one per page, both directions.
  const cs2 = await stripe.checkout.sessions.create(sessionParams({ metadata: { order_id: '43' } }));
  // A Date goes out as unix seconds; `expand` works on create too.
  const expiresAt = new Date(Date.now() + 2 * 3600 * 1000);
  const cs3 = await stripe.checkout.sessions.create(
    sessionParams({ metadata: { order_id: '44' }, expires_at: expiresAt, expand: ['line_items'] }),
  );
  eq('expires_at from a Date', cs3.expires_at, Math.floor(expiresAt.getTime() / 1000));
  eq('create with expand line_items', cs3.line_items?.data?.length, 3);
  const listed = await stripe.checkout.sessions.list({ limit: 1 });
  eq('sessions list url', listed.url, '/v1/checkout/sessions');
  eq('sessions list newest first', listed.data[0].id, cs3.id);
  eq('sessions list has_more', listed.has_more, true);
  const allIds = (await collect(stripe.checkout.sessions.list({ limit: 1 }))).map((s) => s.id);
  eq('sessions for await: all three, newest first', allIds, [cs3.id, cs2.id, cs.id]);
  const arrIds = (await stripe.checkout.sessions.list({ limit: 1 }).autoPagingToArray({ limit: 100 })).map(
    (s) => s.id,
  );
  eq('sessions autoPagingToArray', arrIds, allIds);
  const newer = (await collect(stripe.checkout.sessions.list({ limit: 1, ending_before: cs.id }))).map(
    (s) => s.id,
  );
  eq('sessions ending_before: walks backwards to the newest', newer, [cs2.id, cs3.id]);
  const open = (await stripe.checkout.sessions.list({ status: 'open', limit: 100 })).data.map((s) => s.id);
  check('sessions list filter status=open', [cs.id, cs2.id, cs3.id].every((id) => open.includes(id)), show(open));

  // Errors.
  const badKey = new Stripe('sk_test_not-a-valid-key', config);
  let e = await expectError('bad API key', errors.StripeAuthenticationError, () =>
    badKey.checkout.sessions.list(),
  );
  eq('bad API key: statusCode', e.statusCode, 401);
  check(
    'bad API key: message masks the key',
    e.message.includes('Invalid API Key provided') && !e.message.includes('not-a-valid'),
    e.message,
  );
  const pk = new Stripe('pk_test_publishable123', config);
  e = await expectError('publishable key', errors.StripeAuthenticationError, () =>
    pk.checkout.sessions.create(sessionParams()),
  );
  eq('publishable key: code', e.code, 'secret_key_required');

  const noSuccess = sessionParams();
  delete noSuccess.success_url;
  e = await expectError('missing success_url', errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.create(noSuccess),
  );
  eq('missing success_url: param', e.param, 'success_url');
  eq('missing success_url: code', e.code, 'parameter_missing');
  eq('missing success_url: statusCode', e.statusCode, 400);
  eq('missing success_url: type', e.type, 'StripeInvalidRequestError');
  eq('missing success_url: rawType', e.rawType, 'invalid_request_error');
  startsWith('missing success_url: requestId', e.requestId, 'req_');
  startsWith('missing success_url: doc_url', e.doc_url, 'https://stripe.com/docs/error-codes/');

  e = await expectError('unknown parameter', errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.create(sessionParams({ colour: 'blue' })),
  );
  eq('unknown parameter: param', e.param, 'colour');
  eq('unknown parameter: code', e.code, 'parameter_unknown');
  const badItems = sessionParams();
  badItems.line_items[1].price_data.flavour = 'mint';
  e = await expectError('unknown nested parameter', errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.create(badItems),
  );
  eq('unknown nested parameter: full bracket path', e.param, 'line_items[1][price_data][flavour]');

  e = await expectError('retrieve unknown session', errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.retrieve('cs_test_doesNotExist'),
  );
  eq('unknown session: statusCode', e.statusCode, 404);
  eq('unknown session: code', e.code, 'resource_missing');
  eq('unknown session: param', e.param, 'session');

  // An explicit idempotency key is accepted and echoed (replays: see runRetries).
  const idemKey = `node-sdk-explicit-${randomUUID()}`;
  const keyed = await stripe.checkout.sessions.create(sessionParams({ metadata: { order_id: '45' } }), {
    idempotencyKey: idemKey,
  });
  startsWith('create with idempotencyKey option', keyed.id, 'cs_test_');
  eq('explicit Idempotency-Key echoed', keyed.lastResponse.idempotencyKey, idemKey);

  // Webhook endpoint + payment.
  const receiver = new Receiver();
  await receiver.start();
  let event;
  try {
    const endpoint = await stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: ['checkout.session.completed'],
      description: 'node sdk check',
    });
    startsWith('webhook endpoint id', endpoint.id, 'we_');
    eq('webhook endpoint object', endpoint.object, 'webhook_endpoint');
    const secret = endpoint.secret;
    startsWith('webhook endpoint secret', secret, 'whsec_');
    eq('webhook endpoint enabled_events', endpoint.enabled_events, ['checkout.session.completed']);
    eq('webhook endpoint url', endpoint.url, receiver.url);

    const pageResp = await fetch(cs.url);
    const pageHtml = await pageResp.text();
    eq('hosted page GET', pageResp.status, 200);
    check('hosted page has the card form', pageHtml.includes('name="cardNumber"'), pageHtml.slice(0, 200));

    const payResp = await fetch(cs.url, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({
        email: EMAIL,
        cardNumber: '4242 4242 4242 4242',
        cardExpiry: '12 / 34',
        cardCvc: '123',
        billingName: 'Jenny Rosen',
      }),
    });
    await payResp.arrayBuffer();
    eq('pay with 4242: HTTP 303', payResp.status, 303);
    eq(
      '303 Location is success_url with the id substituted',
      payResp.headers.get('location'),
      SUCCESS_URL.replace('{CHECKOUT_SESSION_ID}', cs.id),
    );

    // The mock waits for the first delivery attempt before redirecting; allow slack anyway.
    const delivery = await receiver.take(10_000);
    check('webhook delivered', delivery !== null, 'nothing received within 10 s');
    eq('webhook method', delivery.method, 'POST');
    eq('webhook path', delivery.path, '/stripe/webhook');
    startsWith('webhook content type is JSON', delivery.contentType, 'application/json');
    const header = delivery.signature;
    check('Stripe-Signature header present', typeof header === 'string' && /^t=\d+,/.test(header), header);
    check('webhook body is a Buffer', Buffer.isBuffer(delivery.body), typeof delivery.body);

    event = stripe.webhooks.constructEvent(delivery.body, header, secret);
    check('webhooks.constructEvent(raw Buffer) verifies', true);
    eq('event object', event.object, 'event');
    eq('event type', event.type, 'checkout.session.completed');
    startsWith('event id', event.id, 'evt_');
    eq('event livemode', event.livemode, false);
    eq('event.request: none for a payment on the hosted page', event.request, { id: null, idempotency_key: null });
    const obj = event.data.object;
    eq('event data.object.id', obj.id, cs.id);
    eq('event data.object.status', obj.status, 'complete');
    eq('event data.object.payment_status', obj.payment_status, 'paid');
    eq('event data.object.amount_total', obj.amount_total, TOTAL);
    eq('event data.object.metadata', obj.metadata, METADATA);
    startsWith('event data.object.payment_intent', obj.payment_intent, 'pi_');

    const fetched = await stripe.events.retrieve(event.id);
    const { pending_webhooks: pendingThen, ...deliveredRest } = event;
    const { pending_webhooks: pendingNow, ...fetchedRest } = fetched;
    eq('events.retrieve gives the delivered event', fetchedRest, deliveredRest);
    eq('pending_webhooks: 1 in the delivery, 0 once delivered', [pendingThen, pendingNow], [1, 0]);

    const asyncEvent = await stripe.webhooks.constructEventAsync(delivery.body, header, secret);
    eq('webhooks.constructEventAsync verifies', asyncEvent.id, event.id);
    const fromString = stripe.webhooks.constructEvent(delivery.body.toString('utf8'), header, secret);
    eq('constructEvent(raw string) verifies', fromString.id, event.id);

    await expectSignatureError('wrong webhook secret', () =>
      stripe.webhooks.constructEvent(delivery.body, header, 'whsec_wrong'),
    );
    await expectSignatureError('tampered webhook body', () =>
      stripe.webhooks.constructEvent(
        Buffer.from(delivery.body.toString('utf8').replace('"paid"', '"unpaid"')),
        header,
        secret,
      ),
    );
    await expectSignatureError('re-serialized JSON body', () =>
      stripe.webhooks.constructEvent(JSON.stringify(JSON.parse(delivery.body)), header, secret),
    );

    // The SDK's own test-header generator, given the mock's `t`, signs exactly as the mock did.
    const parts = header.split(',').map((p) => p.split('='));
    const t = Number(parts.find(([k]) => k === 't')[1]);
    const v1s = parts.filter(([k]) => k === 'v1').map(([, v]) => v);
    check('mock t is current wall time', Math.abs(Date.now() / 1000 - t) < 60, `t=${t}`);
    const generated = stripe.webhooks.generateTestHeaderString({
      payload: delivery.body.toString('utf8'),
      secret,
      timestamp: t,
    });
    eq('generateTestHeaderString for the mock t', generated.split(',')[0], `t=${t}`);
    const generatedV1 = generated.split(',')[1].replace(/^v1=/, '');
    check('generateTestHeaderString v1 equals the mock v1', v1s.includes(generatedV1), `${generated} vs ${header}`);
    eq('mock header is exactly t and v1 (no spaces)', header, generated);

    // Only the enabled event type reaches the endpoint.
    await new Promise((r) => setTimeout(r, 300));
    const extra = [];
    for (let d = await receiver.take(10); d !== null; d = await receiver.take(10)) {
      extra.push(JSON.parse(d.body).type);
    }
    check(
      'no events beyond enabled_events delivered',
      extra.every((type) => type === 'checkout.session.completed'),
      show(extra),
    );

    const deleted = await stripe.webhookEndpoints.del(endpoint.id);
    eq('webhookEndpoints.del', [deleted.id, deleted.deleted], [endpoint.id, true]);
  } finally {
    await receiver.stop();
  }

  const paid = await stripe.checkout.sessions.retrieve(cs.id);
  eq('after payment: status', paid.status, 'complete');
  eq('after payment: payment_status', paid.payment_status, 'paid');
  startsWith('after payment: payment_intent', paid.payment_intent, 'pi_');
  eq('after payment: payment_intent matches the event', paid.payment_intent, event.data.object.payment_intent);
  eq('after payment: url cleared', paid.url, null);
  eq('after payment: customer_details.email', paid.customer_details?.email, EMAIL);

  const pi = await stripe.paymentIntents.retrieve(paid.payment_intent);
  eq('paymentIntents.retrieve: object', pi.object, 'payment_intent');
  eq('payment intent id', pi.id, paid.payment_intent);
  eq('payment intent status', pi.status, 'succeeded');
  eq('payment intent amount', pi.amount, TOTAL);
  eq('payment intent amount_received', pi.amount_received, TOTAL);
  eq('payment intent currency', pi.currency, 'usd');
  startsWith('payment intent latest_charge', pi.latest_charge, 'ch_');
  const withPi = await stripe.checkout.sessions.retrieve(cs.id, { expand: ['payment_intent.latest_charge'] });
  eq('expand payment_intent.latest_charge', withPi.payment_intent?.latest_charge?.id, pi.latest_charge);

  // Expire the second session, twice.
  const expired = await stripe.checkout.sessions.expire(cs2.id);
  eq('expire: same id', expired.id, cs2.id);
  eq('expire: status', expired.status, 'expired');
  eq('expire: url cleared', expired.url, null);
  e = await expectError('expire an expired session', errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.expire(cs2.id),
  );
  eq('expire twice: statusCode', e.statusCode, 400);
  check('expire twice: message names the status', e.message.includes('expired'), e.message);
  const [expiredEvent] = (await stripe.events.list({ type: 'checkout.session.expired', limit: 1 })).data;
  eq('checkout.session.expired event for the session', expiredEvent?.data?.object?.id, cs2.id);
  eq(
    'event.request: the expire call and its automatic Idempotency-Key',
    expiredEvent.request,
    { id: expired.lastResponse.requestId, idempotency_key: expired.lastResponse.idempotencyKey },
  );
  await expectError('expire a completed session', errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.expire(cs.id),
  );

  // Update metadata: `null` unsets a key (sent as `metadata[note]=`).
  const updated = await stripe.checkout.sessions.update(cs.id, { metadata: { shipped: 'yes', note: null } });
  eq('update metadata: null unsets, new key added', updated.metadata, {
    order_id: '42',
    greeting: METADATA.greeting,
    shipped: 'yes',
  });

  // Node retries connection errors, 409 and 5xx with the same key; against a healthy mock no
  // request should have needed one (runRetries below injects the faults that do).
  eq('every SDK request answered on its first attempt', traffic.attempts, traffic.answers);
  check(
    'every POST carried its own stripe-node-retry- key',
    traffic.keys.every((k) => k.startsWith('stripe-node-retry-') || k === idemKey) &&
      new Set(traffic.keys).size === traffic.keys.length,
    show(traffic.keys),
  );

  await runRetries(base, config);
  await runPayments(base, config);
  await runCatalog(base, config);
}

// --- the SDK's automatic retries, against injected faults ---------------------------------------

const SESSIONS_PATH = '/v1/checkout/sessions';
// The SDK does not read the body of an answer it retries, so that socket stays busy until the
// server drops it (the mock: after 30 s idle) and keeps the process alive: these clients get
// their own agent, destroyed when the retry checks are done.
const retryAgent = new http.Agent({ keepAlive: true });

/** Calls the mock's `/_config/…` with plain fetch and the account's key: [status, parsed JSON]. */
async function control(base, key, method, path, fields) {
  const resp = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}` },
    body: fields === undefined ? undefined : new URLSearchParams(fields),
  });
  return [resp.status, await resp.json()];
}

/** A client with retries on, for a fresh account (its session list holds only this case's). */
function retryingClient(config) {
  const key = `sk_test_nodeSdkRetry${randomUUID().replaceAll('-', '')}`;
  const client = new Stripe(key, { ...config, maxNetworkRetries: 2, httpAgent: retryAgent });
  return { key, client, traffic: watch(client) };
}

async function inject(base, key, label, fault) {
  const [status, body] = await control(base, key, 'POST', '/_config/faults', {
    target: 'api',
    path: SESSIONS_PATH,
    ...fault,
  });
  check(`${label}: fault injected`, status === 200 && body.object === 'mock_fault', show(body));
}

async function faultsUsedUp(base, key, label) {
  const [status, body] = await control(base, key, 'GET', '/_config/faults');
  eq(`${label}: every injected fault used up`, [status, body.data], [200, []]);
}

async function onlySession(client, label, cs) {
  const ids = (await client.checkout.sessions.list({ limit: 100 })).data.map((s) => s.id);
  eq(`${label}: the account holds exactly the one session`, ids, [cs.id]);
}

/**
 * Injects `fault` on /v1/checkout/sessions, creates one session through the SDK with
 * maxNetworkRetries: 2, and checks that the SDK's retries got it through exactly once.
 */
async function retriedCreate(base, config, label, fault, attempts, replayed) {
  const { key, client, traffic } = retryingClient(config);
  await inject(base, key, label, fault);
  const cs = await client.checkout.sessions.create(sessionParams({ metadata: { case: label } }));
  startsWith(`${label}: create succeeds through the SDK's retries`, cs.id, 'cs_test_');
  eq(`${label}: attempts the SDK made, answers it reported`, [traffic.attempts, traffic.answers], [attempts, 1]);
  check(
    `${label}: every attempt carried the same stripe-node-retry- key`,
    traffic.keys.length === attempts &&
      new Set(traffic.keys).size === 1 &&
      traffic.keys[0].startsWith('stripe-node-retry-'),
    show(traffic.keys),
  );
  eq(`${label}: the answer echoes that key`, cs.lastResponse.idempotencyKey, traffic.keys[0]);
  eq(
    `${label}: Idempotent-Replayed on the answer`,
    cs.lastResponse.headers['idempotent-replayed'],
    replayed ? 'true' : undefined,
  );
  await onlySession(client, label, cs);
  await faultsUsedUp(base, key, label);
}

async function runRetries(base, config) {
  try {
    await retryChecks(base, config);
  } finally {
    retryAgent.destroy();
  }
}

async function retryChecks(base, config) {
  // An injected 5xx is answered without executing and is not stored under the key: the
  // third attempt runs the create for the first time.
  await retriedCreate(base, config, '500 twice', { kind: 'status', status: '500', count: '2' }, 3, false);
  // The create runs, then the connection closes unanswered: the SDK's retry with the same key
  // gets the stored answer instead of creating a second session.
  await retriedCreate(base, config, 'lost response', { kind: 'timeout', count: '1' }, 2, true);

  // A 429: the SDKs retry a 429 only when Stripe-Should-Retry says so; the mock says so for
  // injected faults (nothing was executed), so the retry creates the session once.
  await retriedCreate(base, config, '429 rate_limit', { kind: 'status', status: '429', count: '1' }, 2, false);

  // Explicit idempotency keys, as an app sets them.
  let label = 'idempotencyKey';
  let { key, client, traffic } = retryingClient(config);
  let idem = `node-sdk-explicit-${randomUUID()}`;
  let params = sessionParams({ metadata: { case: label } });
  const first = await client.checkout.sessions.create(params, { idempotencyKey: idem });
  eq(`${label}: echoed on the answer`, first.lastResponse.idempotencyKey, idem);
  const again = await client.checkout.sessions.create(params, { idempotencyKey: idem });
  eq(`${label}: same key and params give the same session`, again.id, first.id);
  eq(`${label}: the second answer is a replay`, again.lastResponse.headers['idempotent-replayed'], 'true');
  const e = await expectError(`${label}: same key, other params`, errors.StripeIdempotencyError, () =>
    client.checkout.sessions.create(sessionParams({ metadata: { case: 'other' } }), { idempotencyKey: idem }),
  );
  eq(`${label}: mismatch statusCode`, e.statusCode, 400);
  eq(`${label}: mismatch is not retried`, traffic.attempts, 3);
  await onlySession(client, label, first);
}

// --- the direct PaymentIntents API, PaymentMethods, Charges, Refunds ---------------------------

const PAYMENT_EVENTS = [
  'payment_intent.created',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.requires_action',
  'payment_intent.amount_capturable_updated',
  'payment_intent.canceled',
  'charge.succeeded',
  'charge.failed',
  'charge.captured',
  'charge.refunded',
  'charge.refund.updated',
  'refund.created',
  'refund.updated',
];

/** The first delivery of each event type in `wanted` (they may come in any order). */
async function collectDeliveries(receiver, wanted, ms = 10_000) {
  const got = new Map();
  const deadline = Date.now() + ms;
  while (wanted.some((t) => !got.has(t)) && Date.now() < deadline) {
    const d = await receiver.take(Math.max(10, deadline - Date.now()));
    if (d === null) {
      break;
    }
    const type = JSON.parse(d.body.toString('utf8')).type;
    if (!got.has(type)) {
      got.set(type, d);
    }
  }
  return got;
}

/**
 * A custom payment page's server side: PaymentIntents confirmed with Stripe's test
 * PaymentMethods (success, decline, 3-D Secure, manual capture, cancel), PaymentMethods,
 * Charges, and a refund round trip whose webhooks `stripe.webhooks.constructEvent` verifies.
 */
async function runPayments(base, config) {
  const stripe = new Stripe(`sk_test_nodeSdkPayments${randomUUID().replaceAll('-', '')}`, config);
  const receiver = new Receiver();
  await receiver.start();
  try {
    const { secret } = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: PAYMENT_EVENTS });

    const pm = await stripe.paymentMethods.create({
      type: 'card',
      card: { token: 'tok_visa' },
      billing_details: { name: 'Jenny Rosen', email: EMAIL },
    });
    startsWith('paymentMethods.create with a test token', pm.id, 'pm_');
    eq('payment method card', [pm.type, pm.card.brand, pm.card.last4], ['card', 'visa', '4242']);
    eq('paymentMethods.retrieve', (await stripe.paymentMethods.retrieve(pm.id)).billing_details.email, EMAIL);

    const paid = await stripe.paymentIntents.create({
      amount: 2000,
      currency: 'usd',
      payment_method: pm.id,
      confirm: true,
      payment_method_types: ['card'],
      metadata: { order_id: '77' },
    });
    eq('create+confirm', [paid.object, paid.status, paid.amount_received], ['payment_intent', 'succeeded', 2000]);
    eq('amount_details', paid.amount_details, { tip: {} });
    const charge = await stripe.charges.retrieve(paid.latest_charge, { expand: ['payment_intent'] });
    eq('charges.retrieve with expand[]=payment_intent', charge.payment_intent.id, paid.id);
    eq(
      'charges.list by payment_intent',
      (await stripe.charges.list({ payment_intent: paid.id })).data.map((c) => c.id),
      [charge.id],
    );

    const e = await expectError('declined confirm', errors.StripeCardError, () =>
      stripe.paymentIntents.create({
        amount: 2000,
        currency: 'usd',
        payment_method: 'pm_card_chargeDeclined',
        confirm: true,
      }),
    );
    eq('decline', [e.statusCode, e.code, e.decline_code], [402, 'card_declined', 'generic_decline']);
    startsWith('decline: charge', e.charge, 'ch_');
    eq('decline: payment_intent', e.payment_intent?.status, 'requires_payment_method');
    eq('decline: payment_method', e.payment_method?.object, 'payment_method');
    const retried = await stripe.paymentIntents.confirm(e.payment_intent.id, { payment_method: 'pm_card_visa' });
    eq('confirm again with another card', retried.status, 'succeeded');

    const challenged = await stripe.paymentIntents.create({
      amount: 3000,
      currency: 'usd',
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
      return_url: 'https://shop.test/order/9',
    });
    eq('3-D Secure: requires_action', [challenged.status, challenged.next_action?.type], ['requires_action', 'redirect_to_url']);
    const challengeUrl = new URL(challenged.next_action.redirect_to_url.url);
    eq('redirect_to_url is the mock page', challengeUrl.pathname, `/c/3ds/${challenged.id}`);
    const page = await fetch(challengeUrl);
    check('challenge page', page.status === 200 && (await page.text()).includes('Complete authentication'));
    const answer = await fetch(`${base}/c/3ds/${challenged.id}`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ challenge: challengeUrl.searchParams.get('challenge'), outcome: 'fail' }),
    });
    await answer.arrayBuffer();
    const back = new URL(answer.headers.get('location'));
    eq(
      'failed authentication: back to return_url',
      [answer.status, back.pathname, back.searchParams.get('payment_intent'), back.searchParams.get('redirect_status')],
      [303, '/order/9', challenged.id, 'failed'],
    );
    const afterFail = await stripe.paymentIntents.retrieve(challenged.id);
    eq(
      'after failed authentication',
      [afterFail.status, afterFail.last_payment_error?.code],
      ['requires_payment_method', 'payment_intent_authentication_failure'],
    );

    const held = await stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
    });
    eq('manual capture', [held.status, held.amount_capturable], ['requires_capture', 5000]);
    const captured = await stripe.paymentIntents.capture(held.id, { amount_to_capture: 4000 });
    eq('partial capture', [captured.status, captured.amount_received], ['succeeded', 4000]);
    const again = await expectError('capture twice', errors.StripeInvalidRequestError, () =>
      stripe.paymentIntents.capture(held.id),
    );
    eq('capture twice: code', again.code, 'payment_intent_unexpected_state');
    const customer = await stripe.customers.create({ email: EMAIL });
    const toCancel = await stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
      customer: customer.id,
    });
    const canceled = await stripe.paymentIntents.cancel(toCancel.id, { cancellation_reason: 'abandoned' });
    eq('cancel releases the authorization', [canceled.status, canceled.cancellation_reason], ['canceled', 'abandoned']);
    eq(
      'paymentIntents.list by customer',
      (await stripe.paymentIntents.list({ customer: customer.id })).data.map((p) => p.id),
      [toCancel.id],
    );

    // The refund round trip.
    const refund = await stripe.refunds.create({ payment_intent: paid.id, amount: 500, metadata: { rma: '7' } });
    eq('refunds.create', [refund.object, refund.status, refund.amount], ['refund', 'succeeded', 500]);
    const over = await expectError('refund more than is left', errors.StripeInvalidRequestError, () =>
      stripe.refunds.create({ charge: charge.id, amount: 1600 }),
    );
    eq('over-refund: param and message', [over.param, over.message], [
      'amount',
      'Refund amount ($16.00) is greater than unrefunded amount on charge ($15.00)',
    ]);
    const rest = await stripe.refunds.create({ charge: charge.id });
    eq('refund the rest', rest.amount, 1500);
    const after = await stripe.charges.retrieve(charge.id);
    eq('charge amount_refunded, refunded', [after.amount_refunded, after.refunded], [2000, true]);
    const updated = await stripe.refunds.update(refund.id, { metadata: { rma: '8' } });
    eq('refunds.update metadata', updated.metadata, { rma: '8' });
    const listed = await collect(stripe.refunds.list({ payment_intent: paid.id, limit: 1 }));
    eq('refunds.list auto-paged', listed.map((r) => r.id), [rest.id, refund.id]);

    const got = await collectDeliveries(receiver, PAYMENT_EVENTS);
    eq('every payment event delivered', [...got.keys()].sort(), [...PAYMENT_EVENTS].sort());
    for (const [type, d] of [...got.entries()].sort()) {
      const ev = stripe.webhooks.constructEvent(d.body, d.signature, secret);
      const expected = type.startsWith('refund.') || type === 'charge.refund.updated' ? 'refund' : type.split('.')[0];
      eq(`${type}: constructEvent verifies, data.object`, [ev.type, ev.data.object.object], [type, expected]);
    }
    const created = (await stripe.events.list({ type: 'refund.created', limit: 10 })).data.find(
      (ev) => ev.data.object.id === refund.id,
    );
    eq('refund.created of the refund, caused by its request', created?.request?.id, refund.lastResponse.requestId);
    await expectSignatureError('refund webhook with the wrong secret', () =>
      stripe.webhooks.constructEvent(got.get('refund.created').body, got.get('refund.created').signature, 'whsec_x'),
    );
  } finally {
    await receiver.stop();
  }
}

// --- products, prices, customers, coupons, promotion codes, search -----------------------------

/**
 * What a shop's setup script and checkout do with the catalog: products and prices (lookup
 * keys, archiving), customers (`null` clears a field), a promotion code, a session of prices
 * that makes a Customer when paid, and the search endpoints (auto-paged by `next_page`).
 */
async function runCatalog(base, config) {
  const key = `sk_test_nodeSdkCatalog${randomUUID().replaceAll('-', '')}`;
  const stripe = new Stripe(key, config);

  // Products and prices.
  const book = await stripe.products.create({ name: 'Book', description: 'Hardback', metadata: { sku: 'B1' } });
  startsWith('product id', book.id, 'prod_');
  eq('product object', book.object, 'product');
  const std = await stripe.prices.create({ product: book.id, unit_amount: 1500, currency: 'usd', lookup_key: 'book_std' });
  startsWith('price id', std.id, 'price_');
  eq('price type', std.type, 'one_time');
  // The SDK turns decimal strings into its own Decimal type.
  eq('price unit_amount_decimal', String(std.unit_amount_decimal), '1500');
  const club = await stripe.prices.create({
    product_data: { name: 'Book club' },
    unit_amount: 900,
    currency: 'usd',
    recurring: { interval: 'month' },
    expand: ['product'],
  });
  eq('recurring price', [club.type, club.recurring.interval, club.recurring.interval_count], ['recurring', 'month', 1]);
  eq('expand[]=product on create', club.product.name, 'Book club');
  const byKey = await stripe.prices.list({ lookup_keys: ['book_std'] });
  eq('prices.list by lookup_keys', byKey.data.map((p) => p.id), [std.id]);
  const moved = await stripe.prices.create({
    product: book.id,
    unit_amount: 1600,
    currency: 'usd',
    lookup_key: 'book_std',
    transfer_lookup_key: true,
  });
  eq('transfer_lookup_key moves the key', (await stripe.prices.retrieve(std.id)).lookup_key, null);
  await stripe.prices.update(std.id, { active: false });
  const all = await collect(stripe.prices.list({ limit: 1 }));
  eq('auto-pager walks every price', all.length, 3);
  const updated = await stripe.products.update(book.id, { default_price: moved.id, description: null });
  eq('product update: default_price', updated.default_price, moved.id);
  eq('product update: null clears description', updated.description, null);

  // Customers.
  const jenny = await stripe.customers.create({ email: 'jenny@example.com', name: 'Jenny Rosen', metadata: { tier: 'gold' } });
  startsWith('customer id', jenny.id, 'cus_');
  eq('customer invoice_settings', jenny.invoice_settings.default_payment_method, null);
  const renamed = await stripe.customers.update(jenny.id, { name: null, phone: '+1 555 555 0100' });
  eq('customer update: null clears, %20 decodes', [renamed.name, renamed.phone], [null, '+1 555 555 0100']);
  const sam = await stripe.customers.create({ email: 'sam@example.com', metadata: { tier: 'gold' } });
  const gone = await stripe.customers.del(sam.id);
  eq('customers.del', [gone.id, gone.deleted], [sam.id, true]);
  eq('retrieve a deleted customer', (await stripe.customers.retrieve(sam.id)).deleted, true);
  eq('customers.list by email skips the deleted', (await stripe.customers.list({ email: 'sam@example.com' })).data, []);
  let e = await expectError('customer with a bad email', errors.StripeInvalidRequestError, () =>
    stripe.customers.create({ email: 'not-an-email' }),
  );
  eq('bad email code', e.code, 'email_invalid');

  // Coupons and promotion codes.
  const coupon = await stripe.coupons.create({ amount_off: 500, currency: 'usd', name: 'Five off' });
  eq('coupon amount_off', [coupon.amount_off, coupon.currency, coupon.valid], [500, 'usd', true]);
  const promo = await stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'FIVE' });
  eq('promotion.coupon', promo.promotion.coupon, coupon.id);
  eq('promotionCodes.list by code', (await stripe.promotionCodes.list({ code: 'five' })).data.map((p) => p.id), [promo.id]);
  e = await expectError('unknown promotion code', errors.StripeInvalidRequestError, () =>
    stripe.promotionCodes.retrieve('promo_nope'),
  );
  eq('unknown promotion code statusCode', e.statusCode, 404);

  // A session of catalog prices, discounted, that makes a Customer when paid.
  e = await expectError('archived price in a session', errors.StripeInvalidRequestError, () =>
    stripe.checkout.sessions.create({ mode: 'payment', success_url: SUCCESS_URL, line_items: [{ price: std.id, quantity: 1 }] }),
  );
  eq('archived price param', e.param, 'line_items[0][price]');
  const cs = await stripe.checkout.sessions.create({
    mode: 'payment',
    success_url: SUCCESS_URL,
    customer_creation: 'always',
    line_items: [{ price: moved.id, quantity: 2 }],
    discounts: [{ promotion_code: promo.id }],
    expand: ['line_items'],
  });
  eq('session of prices totals', [cs.amount_subtotal, cs.total_details.amount_discount, cs.amount_total], [3200, 500, 2700]);
  eq('line item price is the catalog price', cs.line_items.data[0].price.id, moved.id);
  const payResp = await fetch(cs.url, {
    method: 'POST',
    redirect: 'manual',
    body: new URLSearchParams({
      email: EMAIL,
      cardNumber: '4242 4242 4242 4242',
      cardExpiry: '12 / 34',
      cardCvc: '123',
      billingName: 'Jenny Rosen',
    }),
  });
  eq('pay the session of prices', payResp.status, 303);
  const paid = await stripe.checkout.sessions.retrieve(cs.id, { expand: ['customer'] });
  eq('customer_creation=always: the new customer', [paid.customer.object, paid.customer.email], ['customer', EMAIL]);
  eq('coupon redeemed', (await stripe.coupons.retrieve(coupon.id)).times_redeemed, 1);

  // Search.
  for (let i = 0; i < 3; i += 1) {
    await stripe.customers.create({ email: `club${i}@example.com`, metadata: { club: 'yes' } });
  }
  const page = await stripe.customers.search({ query: "metadata['club']:'yes'", limit: 2 });
  eq('search_result object', [page.object, page.data.length, page.has_more], ['search_result', 2, true]);
  check('next_page is a token', typeof page.next_page === 'string' && page.next_page.length > 0, show(page.next_page));
  const walked = await collect(stripe.customers.search({ query: "metadata['club']:'yes'", limit: 1 }));
  eq('search auto-pager follows next_page', walked.map((c) => c.email).sort(), [
    'club0@example.com',
    'club1@example.com',
    'club2@example.com',
  ]);
  const intents = await stripe.paymentIntents.search({ query: `customer:'${paid.customer.id}' AND amount>1000` });
  eq('paymentIntents.search', intents.data.map((p) => p.amount), [2700]);
  eq('products.search', (await stripe.products.search({ query: "name:'book'" })).data.map((p) => p.id), [book.id]);
  eq('prices.search', (await stripe.prices.search({ query: "lookup_key:'book_std' AND active:'true'" })).data.map((p) => p.id), [moved.id]);
  e = await expectError('bad search query', errors.StripeInvalidRequestError, () =>
    stripe.customers.search({ query: "email:'a' AND name:'b' OR name:'c'" }),
  );
  eq('bad search query param', e.param, 'query');
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node checkout.mjs BASE_URL');
    return 2;
  }
  const base = process.argv[2].replace(/\/+$/, '');
  try {
    await run(base);
  } catch (e) {
    if (e instanceof CheckFailed) {
      console.log(`FAIL: ${e.message}`);
    } else if (e instanceof errors.StripeError) {
      console.log(
        `FAIL: unexpected ${e.constructor.name} (HTTP ${e.statusCode}, code ${e.code}, ` +
          `param ${e.param}): ${e.message}`,
      );
      console.error(e.stack);
    } else {
      console.log(`FAIL: unexpected ${e?.constructor?.name}: ${e?.message}`);
      console.error(e?.stack);
    }
    return 1;
  }
  console.log(`all ${count} checks passed`);
  return 0;
}

process.exitCode = await main();
