/*
 * mock-stripe's stand-in for Stripe.js (https://js.stripe.com/v3/), for pages that create a
 * Checkout Session on their server and send the browser there with
 * `Stripe(publishableKey).redirectToCheckout({sessionId})`. Point the page's script tag at
 * the mock (`<script src="http://127.0.0.1:12111/v3/"></script>`) and it works offline.
 *
 * Implemented: `Stripe(key, {stripeAccount})` and `redirectToCheckout({sessionId})`, with
 * Stripe.js's habits: mistakes in the call throw an `IntegrationError`; a session that does
 * not exist, belongs to another account or is no longer open resolves `{error: {message,
 * …}}` and leaves the page where it is; on success the browser goes to the session's
 * payment page and the promise never settles. A publishable key `pk_test_X` belongs to the
 * account of the secret key `sk_test_X`.
 *
 * Not implemented: Elements, client-only Checkout (`lineItems`), confirm*Payment.
 */
(function () {
  'use strict';

  // Where the mock is: the origin this script was loaded from (so `localhost` and
  // `127.0.0.1` both work), else the address the mock knows itself by.
  var script = document.currentScript;
  var MOCK = script && script.src ? new URL(script.src).origin : '__MOCK_BASE_URL__';

  function integrationError(message) {
    var e = new Error(message);
    e.name = 'IntegrationError';
    return e;
  }

  function describe(value) {
    return typeof value === 'string' ? "'" + value + "'" : String(value);
  }

  function Stripe(key, options) {
    if (!(this instanceof Stripe)) {
      return new Stripe(key, options);
    }
    if (key === undefined || key === null || key === '') {
      throw integrationError(
        'Please call Stripe() with your publishable key. You used an empty string.');
    }
    if (typeof key !== 'string') {
      throw integrationError(
        'Invalid value for Stripe(): apiKey should be a string. You specified: ' +
        describe(key) + '.');
    }
    if (/^(sk|rk)_/.test(key)) {
      throw integrationError(
        'You should not use your secret key with Stripe.js.\n' +
        'Please pass a publishable key instead.');
    }
    var account = options && options.stripeAccount;
    if (account !== undefined && (typeof account !== 'string' || !/^acct_/.test(account))) {
      throw integrationError(
        'Invalid value for Stripe(): stripeAccount should be a string starting with ' +
        "'acct_'. You specified: " + describe(account) + '.');
    }
    this._apiKey = key;
    this._stripeAccount = account;
  }

  Stripe.prototype.redirectToCheckout = function (options) {
    if (!options || typeof options !== 'object') {
      throw integrationError(
        'stripe.redirectToCheckout: Expected an object, but got ' + describe(options) + '.');
    }
    var sessionId = options.sessionId;
    if (sessionId === undefined) {
      if (options.lineItems || options.items) {
        return Promise.resolve({
          error: {
            type: 'invalid_request_error',
            message: 'mock-stripe does not simulate client-only Checkout (lineItems or ' +
              'items): create a Checkout Session on your server and pass its sessionId.',
          },
        });
      }
      throw integrationError(
        'stripe.redirectToCheckout: You must provide one of lineItems, items, or sessionId.');
    }
    if (typeof sessionId !== 'string' || !/^cs_[A-Za-z0-9_]+$/.test(sessionId)) {
      throw integrationError(
        'stripe.redirectToCheckout: Invalid value for sessionId. You specified ' +
        describe(sessionId) + '.');
    }
    var url = MOCK + '/v3/checkout/sessions/' + encodeURIComponent(sessionId) +
      '?key=' + encodeURIComponent(this._apiKey);
    if (this._stripeAccount) {
      url += '&stripe_account=' + encodeURIComponent(this._stripeAccount);
    }
    return fetch(url, { credentials: 'omit', cache: 'no-store' })
      .then(function (response) {
        return response.json();
      })
      .then(function (body) {
        if (!body || body.error || !body.url) {
          return { error: (body && body.error) || { message: 'Unexpected answer from mock-stripe.' } };
        }
        window.location.assign(body.url);
        // The page is going away, as with Stripe.js: nothing to resolve.
        return new Promise(function () {});
      }, function (err) {
        return {
          error: {
            type: 'api_connection_error',
            message: 'An error occurred with our connection to Stripe. (mock-stripe at ' +
              MOCK + ': ' + (err && err.message) + ')',
          },
        };
      });
  };

  Stripe.version = 3;
  window.Stripe = Stripe;
})();
