// A shop page that loads mock-stripe's Stripe.js stand-in (`<script src="MOCK/v3/">`) and
// calls `Stripe(pk).redirectToCheckout({sessionId})`, driven in real Chromium: the errors
// Stripe.js gives (resolved or thrown) keep the shopper on the page; an open session takes
// them to the payment page, and paying lands on the shop's success URL.
//
// usage: node stripejs.mjs SHOP_URL OPEN_ID EXPIRED_ID UNKNOWN_ID
// Prints one line per case, then the success URL; exits 1 on any failure.
//
// playwright-core comes from this folder: `npm ci --prefix mock-stripe/tests/browser`.
import { chromium } from 'playwright-core';

const [shop, openId, expiredId, unknownId] = process.argv.slice(2);
if (!shop || !openId || !expiredId || !unknownId) {
  console.error('usage: node stripejs.mjs SHOP_URL OPEN_ID EXPIRED_ID UNKNOWN_ID');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  // Clicks "Checkout" on the shop's page for this session; returns what the page shows.
  const attempt = async (sessionId) => {
    const start = `${shop}/checkout?session=${encodeURIComponent(sessionId)}`;
    await page.goto(start);
    await page.click('#checkout');
    await page.locator('#error:not(:empty)').waitFor();
    if (page.url() !== start) throw new Error(`left the shop's page for ${page.url()}`);
    return page.locator('#error').textContent();
  };

  const expect = (what, text, needle) => {
    if (!text.includes(needle)) throw new Error(`${what}: expected "${needle}", page shows "${text}"`);
    console.log(`${what}: ${text}`);
  };
  expect('unknown session', await attempt(unknownId), `No such payment_page: '${unknownId}'`);
  expect('expired session', await attempt(expiredId), 'has expired');
  expect('malformed id', await attempt('not-a-session'),
    "IntegrationError: stripe.redirectToCheckout: Invalid value for sessionId. You specified 'not-a-session'.");

  // An open session: to the payment page, pay, back to the shop.
  await page.goto(`${shop}/checkout?session=${openId}`);
  await page.click('#checkout');
  await page.waitForURL(/\/c\/pay\/cs_test_/);
  await page.fill('#email', 'stripejs@example.com');
  await page.fill('#cardNumber', '4242 4242 4242 4242');
  await page.fill('#cardExpiry', '12 / 34');
  await page.fill('#cardCvc', '123');
  await page.fill('#billingName', 'Jenny Rosen');
  await page.locator('button[type=submit]').click();
  await page.waitForURL((url) => url.href.startsWith(`${shop}/success`));
  await page.getByText('Thanks for your order').waitFor();
  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join('; ')}`);
  console.log(page.url());
} finally {
  await browser.close();
}
