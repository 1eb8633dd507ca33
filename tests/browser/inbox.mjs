// An owner clears a full inbox in Chromium, signed in through the real OpenID provider: one
// item without the script (the row's own form), then every other one from the keyboard alone.
// Per item: the decision key (y keep, x revoke), the reason (one word), Enter: three actions,
// and no page load back to the list (only one "next items" load per finished page).
//   ROSTER_BASE, ROSTER_CHROMIUM, ROSTER_SCREENSHOTS  as for suite.mjs
//   ROSTER_EXPECT_ITEMS  how many items wait for the owner
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.ROSTER_BASE;
const shots = process.env.ROSTER_SCREENSHOTS;
const expected = Number(process.env.ROSTER_EXPECT_ITEMS);
fs.mkdirSync(shots, { recursive: true });
const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

const browser = await chromium.launch({ executablePath: process.env.ROSTER_CHROMIUM, args: ['--no-sandbox'] });

async function signIn(user, javaScriptEnabled) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, javaScriptEnabled });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.click(`a[href="?user=${user}"]`);
  await page.waitForURL((u) => u.origin === base && !u.pathname.startsWith('/auth/'));
  await page.waitForLoadState('load');
  return { context, page };
}

async function pending(page) {
  return Number(await page.locator('#my-progress').getAttribute('data-pending'));
}

try {
  // Without the script: the row's Keep button posts its own form and comes back to the list.
  {
    const { context, page } = await signIn('owner', false);
    await page.goto(`${base}/reviews`);
    check((await pending(page)) === expected, `the owner has ${expected} items waiting (${await pending(page)})`);
    const first = page.locator('table.inbox tbody tr').first();
    const firstId = await first.getAttribute('data-item');
    await first.locator('input[name="justification"]').fill('nightly');
    await first.locator('button[value="keep"]').click();
    await page.waitForURL(/\/reviews\?decided=1/);
    check((await page.locator('.notice[role="status"]').count()) === 1, 'without the script, a row decision is recorded and the list comes back');
    check((await page.locator(`#row-${firstId}`).count()) === 0, 'the decided row has left the waiting list');
    check(new URL(page.url()).hash.startsWith('#row-'), `and the list comes back at the next row (${page.url()})`);
    await context.close();
  }

  const { context, page } = await signIn('owner', true);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(`${base}/reviews`);
  const total = await pending(page);
  check(total === expected - 1, `${expected - 1} left for the keyboard (${total})`);
  const count = (await page.locator('#page-count').textContent()).trim();
  check(/^1–\d+ of \d+ waiting/.test(count), `the page says which items it shows (${count})`);
  const firstRow = page.locator('table.inbox tbody tr').first();
  const why = await firstRow.locator('td.why').textContent();
  const lastUse = await firstRow.locator('td.why .last-use').textContent();
  check(why.trim().length > 0 && (lastUse.includes('reports') || lastUse.includes('unknown')), `each row says why it is here and its last use (${why.trim()} | ${lastUse.trim()})`);
  await page.screenshot({ path: path.join(shots, 'inbox.png'), fullPage: false });

  let loads = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) loads += 1; });
  const pageTurns = { n: 0 };
  let keys = 0;
  let worst = 0;
  let decided = 0;
  let refusedChecked = false;
  let acceptedOne = false;
  const press = async (k) => { keys += 1; await page.keyboard.press(k); };
  const typeWord = async (w) => { keys += 1; await page.keyboard.type(w); };

  while (decided < total) {
    const row = page.locator('table.inbox tbody tr.current:not(.done)');
    if ((await row.count()) !== 1) {
      const done = page.locator('#page-done');
      if (await done.isVisible()) {
        pageTurns.n += 1;
        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('n')]);
        continue;
      }
      check(false, `no current row after ${decided} decisions`);
      break;
    }
    const id = await row.getAttribute('data-item');
    const revoke = decided % 4 === 3;
    // Once: a revoke without a reason is refused on the row, saying why, and the reason can
    // then be typed where the cursor already is.
    if (revoke && !refusedChecked) {
      refusedChecked = true;
      await page.keyboard.press('x');
      await page.keyboard.press('Enter');
      const status = page.locator(`#row-${id} .row-status.error`);
      await status.waitFor();
      check((await status.textContent()).includes('justification'), `a revoke without a reason is refused on the row (${await status.textContent()})`);
      await page.keyboard.type('unused');
      await page.keyboard.press('Enter');
      await page.locator(`#row-${id}.done, #row-${id} .row-status:not(.error):has-text("✓")`).first().waitFor({ timeout: 10000 }).catch(() => {});
      if ((await page.locator(`#row-${id}.done`).count()) !== 1) {
        const typed = await page.locator(`#row-${id} input[name="justification"]`).inputValue();
        check(false, `after the refusal, item ${id} not saved: ${await page.locator(`#row-${id} .row-status`).textContent()} (typed "${typed}", focus on ${await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 80))})`);
        break;
      }
      decided += 1;
      continue;
    }
    // Once: the row's suggestion accepted with one key.
    if (!acceptedOne && (await row.locator('button[name="accept"]').count()) === 1) {
      acceptedOne = true;
      const suggested = await row.locator('td.suggestion').getAttribute('data-suggested');
      await page.keyboard.press('a');
      await page.locator(`#row-${id}.done, #row-${id} .row-status.error`).first().waitFor();
      const status = await page.locator(`#row-${id} .row-status`).textContent();
      check(status.includes('✓'), `"a" accepts the row's suggestion (${suggested}: ${status})`);
      decided += 1;
      continue;
    }
    const before = keys;
    await press(revoke ? 'x' : 'y');
    await typeWord(revoke ? 'unused' : 'needed');
    await press('Enter');
    await page.locator(`#row-${id}.done, #row-${id} .row-status.error`).first().waitFor();
    if ((await page.locator(`#row-${id}.done`).count()) !== 1) {
      check(false, `item ${id} not saved: ${await page.locator(`#row-${id} .row-status`).textContent()}`);
      break;
    }
    worst = Math.max(worst, keys - before);
    decided += 1;
    if (decided === 10) await page.screenshot({ path: path.join(shots, 'inbox-keyboard.png'), fullPage: false });
  }
  check(decided === total, `every item decided from the keyboard (${decided}/${total})`);
  check(acceptedOne, 'a suggestion was offered and accepted');
  check(worst <= 3, `at most 3 actions per keep or revoke with a one-word reason (worst ${worst})`);
  check(loads === pageTurns.n, `no page load back to the list for any item (${loads} loads, ${pageTurns.n} page turns)`);
  const left = await (await page.request.get(`${base}/api/v1/reviews`)).json();
  check(Array.isArray(left) && left.length === 0, `nothing waits on the server (${left.length})`);
  await page.goto(`${base}/reviews?state=decided`);
  const decidedTab = await page.locator('#page-count').textContent();
  check(decidedTab.includes(`of ${expected} decided`), `the decided tab lists all ${expected} (${decidedTab.trim()})`);
  check(!consoleErrors.some((e) => /Content Security Policy/i.test(e)), `no CSP violations (${consoleErrors.join(' | ')})`);
  await context.close();
} catch (e) {
  check(false, `the inbox run crashed: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(`${failures.length} failure(s); screenshots in ${shots}`);
process.exit(failures.length ? 1 : 0);
