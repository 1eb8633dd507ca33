// The demo in a real browser: signs in through `roster demo`'s IAM admin link, opens the
// inventory (riskiest first) and the riskiest identity, checks what a reviewer would question
// is not there, and saves screenshots.
//   ROSTER_DEMO_LINK    the demo's one-time IAM admin sign-in link
//   ROSTER_CHROMIUM     the browser binary
//   ROSTER_SCREENSHOTS  where the PNGs go
// Prints one line per check; exits 1 if any failed.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const link = process.env.ROSTER_DEMO_LINK;
const base = new URL(link).origin;
const shots = process.env.ROSTER_SCREENSHOTS;
fs.mkdirSync(shots, { recursive: true });
const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

const browser = await chromium.launch({ executablePath: process.env.ROSTER_CHROMIUM, args: ['--no-sandbox'] });
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  await page.goto(link);
  await page.waitForLoadState('load');
  await page.goto(`${base}/inventory?sort=risk`);
  const banner = await page.locator('.sample-banner').count();
  check(banner === 1, 'the sample banner says this is generated data');
  const text = await page.locator('main').innerText();
  check(/critical/i.test(text), 'the riskiest identities come first');
  // What an expert would not believe: an AWS access key or a deploy key with an expiry
  // (neither platform has one), a webhook or a runner holding admin of its own.
  const rows = await page.locator('main table tbody tr').allInnerTexts();
  const impossible = rows.filter((r) =>
    (/access_key|deploy_key/.test(r) && /\bexpired\b|expires in/i.test(r)) ||
    (/webhook|runner/.test(r) && /\badmin\b/.test(r)));
  check(rows.length > 20, `the first page lists identities (${rows.length})`);
  check(impossible.length === 0, `no impossible rows${impossible.length ? ': ' + impossible.slice(0, 3).join(' | ') : ''}`);
  await page.screenshot({ path: path.join(shots, 'demo-inventory.png'), fullPage: false });
  // The riskiest identity, with its findings explained.
  const first = page.locator('main table tbody tr a[href^="/identities/"]').first();
  await first.click();
  await page.waitForLoadState('load');
  const detail = await page.locator('main').innerText();
  check(/NHI\d/.test(detail), 'its findings name their OWASP NHI risk');
  await page.screenshot({ path: path.join(shots, 'demo-identity.png'), fullPage: true });
} catch (e) {
  check(false, `the demo walk threw: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(`${failures.length} failure(s)`);
process.exit(failures.length ? 1 : 0);
