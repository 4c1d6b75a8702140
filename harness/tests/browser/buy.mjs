// A shopper in a real browser: Chromium, driven by playwright-core, buys one
// product on the storefront and pays on the payment page by the input ids
// Stripe's own page uses (#email, #cardNumber, #cardExpiry, #cardCvc,
// #billingName) — so this script would drive Stripe's page the same way.
//
// usage: node buy.mjs SHOP_URL PRODUCT_NAME EMAIL
// Prints the success URL Stripe sent the browser to; exits 1 on any failure.
import { chromium } from 'playwright-core';

const [shopUrl, productName, email] = process.argv.slice(2);
if (!shopUrl || !productName || !email) {
  console.error('usage: node buy.mjs SHOP_URL PRODUCT_NAME EMAIL');
  process.exit(2);
}

// Without these flags Chromium reaches for Google's services, which a closed
// network refuses; --no-sandbox because CI runs as root.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(shopUrl);
  await page.getByRole('link', { name: productName }).click();
  await page.getByRole('button', { name: /Buy/ }).click();
  await page.waitForURL(/\/c\/pay\/cs_test_/);

  const fillCard = async (number) => {
    await page.fill('#email', email);
    await page.fill('#cardNumber', number);
    await page.fill('#cardExpiry', '12 / 34');
    await page.fill('#cardCvc', '123');
    await page.fill('#billingName', 'Jenny Rosen');
    await page.locator('button[type=submit]').click();
  };

  await fillCard('4000 0000 0000 0002');
  await page.getByText('Your card was declined').waitFor();
  if (!page.url().includes('/c/pay/')) throw new Error(`a declined card left the payment page for ${page.url()}`);

  // Record where the payment page sends the browser, before the shop's own redirect.
  let successUrl = null;
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.url().includes('/post_checkout')) successUrl = request.url();
  });
  await fillCard('4242 4242 4242 4242');
  await page.waitForURL((url) => url.href.startsWith(shopUrl) && !url.pathname.includes('/post_checkout'));
  const flash = `Thanks for purchasing ${productName}. You will receive an email shortly`;
  await page.getByText(flash).waitFor();
  if (!successUrl) throw new Error('the browser never visited the success URL');
  console.log(successUrl);
} finally {
  await browser.close();
}
