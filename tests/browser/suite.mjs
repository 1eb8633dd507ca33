// The browser suite: Debian's Chromium driven by playwright-core, signing in through the real
// OpenID provider the Rust harness started (tests/browser.rs runs this with node). Checks what
// an admin, an owner and an auditor can see and do, that no page breaks its CSP, and that axe-core
// finds no serious or critical accessibility violation on the main pages. Saves screenshots.
//   ROSTER_BASE         Roster's base URL
//   ROSTER_CHROMIUM     the browser binary
//   ROSTER_SCREENSHOTS  where the PNGs go
// Prints one line per check; exits 1 if any failed.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const base = process.env.ROSTER_BASE;
const shots = process.env.ROSTER_SCREENSHOTS;
fs.mkdirSync(shots, { recursive: true });

const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

const browser = await chromium.launch({ executablePath: process.env.ROSTER_CHROMIUM, args: ['--no-sandbox'] });

async function signIn(user) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(`${base}/login`);
  await page.click(`a[href="?user=${user}"]`);
  // The callback page moves on to Roster by itself (a meta refresh, no script).
  await page.waitForURL((u) => u.origin === base && !u.pathname.startsWith('/auth/'));
  await page.waitForLoadState('load');
  return { context, page, consoleErrors };
}

// axe needs its script in the page, which the CSP (rightly) refuses: it runs in a second context
// that bypasses CSP and carries the same session.
async function axe(context, url, name) {
  await axeAfter(context, name, (p) => p.goto(url));
}

// axe on a page reached by steps (a form's answer has no URL to open): the steps run in a
// context that bypasses CSP, carrying the same session.
async function axeAfter(context, name, steps) {
  const c = await browser.newContext({ bypassCSP: true, storageState: await context.storageState() });
  const p = await c.newPage();
  await steps(p);
  await p.addScriptTag({ content: axeSource });
  const result = await p.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(serious.length === 0, `axe: no serious or critical violations on ${name}` +
    serious.map((v) => `\n     ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join(''));
  await c.close();
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

try {
  // Admin: the dashboard, then filters the inventory and opens an identity.
  {
    const { context, page, consoleErrors } = await signIn('admin');
    check(new URL(page.url()).pathname === '/dashboard', `admin lands on the dashboard (${page.url()})`);
    check((await page.locator('figure.chart svg').count()) >= 4, 'the dashboard draws its plots');
    check((await page.locator('svg polyline').count()) >= 1, 'the trend plot has lines');
    await shot(page, 'dashboard');
    await axe(context, `${base}/dashboard`, 'the dashboard');

    // The most severe tier the estate has, read off the dashboard's tiles.
    let tier = 'low';
    for (const t of ['critical', 'high', 'medium']) {
      if (Number(await page.locator(`.tile-${t} .tile-value`).textContent()) > 0) { tier = t; break; }
    }
    await page.click('nav >> text=Inventory');
    await page.selectOption('select[name="tier"]', tier);
    await page.click('form.filters button[type="submit"]');
    await page.waitForURL(new RegExp(`tier=${tier}`));
    const tiers = await page.locator('table.inventory tbody td .tier').allTextContents();
    check(tiers.length > 0 && tiers.every((t) => t.trim() === tier), `the tier filter shows only ${tier} rows (${tiers.length})`);
    await shot(page, 'inventory-filtered');
    await axe(context, page.url(), 'the filtered inventory');

    // The whole inventory at a laptop's width and at 800 px: where the page sits in the whole,
    // and the tier and owner of every row on screen without scrolling sideways.
    for (const width of [1366, 800]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${base}/inventory`);
      check(/^1–\d+ of [\d,]+ records?$/.test((await page.locator('.pager .position').first().textContent()).trim()),
        `the inventory says which records it shows at ${width} px`);
      const off = await page.evaluate(() => [...document.querySelectorAll('table.inventory tbody tr')]
        .filter((tr) => ['td.c-tier', 'td.c-owner', 'td.c-name'].some((c) => {
          const r = tr.querySelector(c)?.getBoundingClientRect();
          return !r || r.right > document.documentElement.clientWidth + 1;
        })).length);
      check(off === 0, `name, tier and owner on screen at ${width} px (${off} rows not)`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      check(wide <= 1, `no sideways scrolling at ${width} px (${wide} px too wide)`);
      await shot(page, `inventory-${width}`);
      await axeAfter(context, `the inventory at ${width} px`, async (p) => {
        await p.setViewportSize({ width, height: 900 });
        await p.goto(`${base}/inventory`);
      });
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    const first = page.locator('table.inventory tbody tr td a').first();
    const name = (await first.textContent()).trim();
    await first.click();
    await page.waitForURL(/\/identities\/[0-9a-f]{16}$/);
    check((await page.locator('h1').textContent()).includes(name), `the identity page is ${name}'s`);
    check((await page.locator('#why').textContent()).includes(tier), `the page says why it is ${tier}`);
    const reason = (await page.locator('#tier-reason').textContent()).trim();
    check(reason.includes(`→ ${tier}`), `and which part of the tier formula made it so (${reason})`);
    check((await page.locator('section[aria-labelledby="why"] table tbody tr').count()) >= 1, 'with the findings that made the tier');
    check((await page.locator('button:has-text("Record owner")').count()) === 1, 'an admin may record an owner');
    await shot(page, 'identity');
    await axe(context, page.url(), 'an identity page');

    await page.click('nav >> text=Sync runs');
    check((await page.locator('h1').textContent()).includes('Sync runs'), 'the sync runs page opens');
    await shot(page, 'sync-runs');
    await axe(context, page.url(), 'the sync runs page');
    await page.click('nav >> text=Audit log');
    await page.waitForURL(/\/audit$/);
    check((await page.locator('table.audit tbody tr').count()) > 0, 'the audit log lists events');
    await page.fill('input[name="action"]', 'sync');
    await page.click('form.filters button[type="submit"]');
    await page.waitForURL(/action=sync/);
    const actions = await page.locator('table.audit tbody td:nth-child(4)').allTextContents();
    check(actions.length > 0 && actions.every((a) => a.trim() === 'sync'), `the action filter keeps only sync events (${actions.length})`);
    await shot(page, 'audit-log');
    await axe(context, page.url(), 'the audit log');
    // A launch goes through its preview: nothing is written until Launch.
    await page.goto(`${base}/inventory?tier=${tier}`);
    await page.click('a:has-text("Review this view")');
    await page.waitForURL(/\/campaigns\?scope=/);
    check((await page.locator('input[name="scope"]').inputValue()).includes(`tier=${tier}`), 'review this view carries the filter into the launch form');
    await page.fill('input[name="name"]', `Preview of ${tier}`);
    await page.fill('input[name="fallback_reviewer"]', 'iam@acme.example');
    const campaignsBefore = await page.locator('section[aria-labelledby="list"] tbody tr').count();
    await page.click('form:has(input[name="preview"]) button:has-text("Preview")');
    await page.waitForLoadState('load');
    check((await page.locator('h1').textContent()).includes('Launch preview'), 'the preview opens');
    const items = Number(await page.locator('#preview-items strong').textContent());
    check(items > 0, `it counts the items (${items}), reviewers (${await page.locator('#preview-reviewers').textContent()}) and fallback items`);
    await shot(page, 'launch-preview');
    await axeAfter(context, 'the launch preview', async (p) => {
      await p.goto(`${base}/campaigns?scope=${encodeURIComponent(`tier=${tier}`)}`);
      await p.fill('input[name="name"]', 'axe preview');
      await p.fill('input[name="fallback_reviewer"]', 'iam@acme.example');
      await p.click('form:has(input[name="preview"]) button:has-text("Preview")');
      await p.waitForLoadState('load');
    });
    await page.goto(`${base}/campaigns`);
    check((await page.locator('section[aria-labelledby="list"] tbody tr').count()) === campaignsBefore, 'a preview launches nothing');
    check(!consoleErrors.some((e) => /Content Security Policy/i.test(e)), `no CSP violations for the admin (${consoleErrors.join(' | ')})`);
    await context.close();
  }

  // Owner: their own identities; no dashboard, no sync runs; claims an identity nobody owns.
  {
    const { context, page, consoleErrors } = await signIn('owner');
    check(new URL(page.url()).pathname === '/my', `an owner lands on their identities (${page.url()})`);
    check((await page.locator('nav >> text=Sync runs').count()) === 0, 'no sync runs link for an owner');
    await shot(page, 'my-identities');
    await axe(context, page.url(), 'my identities');
    const denied = await page.goto(`${base}/sync-runs`);
    check(denied.status() === 403, `sync runs are refused to an owner (${denied.status()})`);
    await page.goto(`${base}/dashboard`);
    check(new URL(page.url()).pathname === '/my', 'the dashboard sends an owner to their identities');

    await page.goto(`${base}/inventory?orphaned=1`);
    const rows = await page.locator('table.inventory tbody td:nth-child(8)').allTextContents();
    check(rows.length > 0 && rows.every((o) => o.trim() === 'none' || o.trim() === 'owner@acme.example'), 'an owner sees only what they own or nobody owns');
    await page.locator('table.inventory tbody tr td a').first().click();
    await page.waitForURL(/\/identities\//);
    await page.fill('input[name="note"]', 'ours, runs the nightly export');
    await page.click('button:has-text("Claim ownership")');
    await page.waitForURL(/claimed=1/);
    check((await page.locator('.notice').count()) === 1, 'the claim is confirmed');
    check((await page.locator('dl.facts').textContent()).includes('owner@acme.example'), 'and the owner is now shown');
    await shot(page, 'identity-claimed');
    check(!consoleErrors.some((e) => /Content Security Policy/i.test(e)), 'no CSP violations for the owner');
    await context.close();
  }

  // Auditor: sees everything, changes nothing.
  {
    const { context, page } = await signIn('auditor');
    check(new URL(page.url()).pathname === '/dashboard', 'an auditor sees the dashboard');
    await page.goto(`${base}/inventory`);
    await page.locator('table.inventory tbody tr td a').first().click();
    await page.waitForURL(/\/identities\//);
    check((await page.locator('main form[method="post"]').count()) === 0, 'no forms that change anything on an auditor\'s identity page');
    const session = await (await page.request.get(`${base}/api/v1/session`)).json();
    const id = page.url().split('/').pop();
    const attempt = await page.request.post(`${base}/api/v1/identities/${id}/claim`, {
      headers: { 'X-CSRF-Token': session.csrf_token },
      form: { note: 'auditor try' },
    });
    check(attempt.status() === 403, `an auditor's claim is refused (${attempt.status()})`);
    await context.close();
  }
  // A campaign: the owner attests their access keys (revoke one, keep one, each with a reason),
  // IAM signs off, the revocation is carried out (dry run first), the evidence lists both.
  const campaign = process.env.ROSTER_CAMPAIGN;
  if (campaign) {
    {
      const { context, page, consoleErrors } = await signIn('owner');
      await page.click('nav >> text=My reviews');
      await page.waitForURL(/\/reviews$/);
      const names = await page.locator('table.inventory tbody td:nth-child(2) a').allTextContents();
      check(names.length >= 2, `the owner's inbox lists their access keys (${names.length})`);
      await shot(page, 'reviews');
      await axe(context, page.url(), 'the review inbox');

      await page.locator('table.inventory tbody td:nth-child(2) a', { hasText: 'etl-bot' }).first().click();
      await page.waitForURL(/\/reviews\/\d+$/);
      check((await page.locator('#since').count()) === 1, 'the item says what changed since the last review');
      await shot(page, 'review-item');
      await axe(context, page.url(), 'a review item');
      await page.selectOption('select[name="decision"]', 'revoke');
      await page.fill('textarea[name="justification"]', '  ');
      await page.click('button:has-text("Save & next")');
      await page.waitForLoadState('load');
      const alert = page.locator('[role="alert"]');
      check((await alert.count()) === 1 && (await alert.textContent()).includes('justification'), 'a revoke without a reason is refused, saying why');
      check((await page.locator('select[name="decision"]').inputValue()) === 'revoke', 'and the refused form keeps what was chosen');
      await page.selectOption('select[name="decision"]', 'revoke');
      await page.fill('textarea[name="justification"]', 'unused since the spring migration');
      await page.click('button:has-text("Save & next")');
      // Save & next: straight on to the next waiting item, not back to the list.
      await page.waitForURL(/\/reviews(\/\d+)?\?decided=1/);
      check(/\/reviews\/\d+\?decided=1/.test(page.url()), `save & next opens the next waiting item (${page.url()})`);
      await page.goto(`${base}/reviews`);
      const left = await page.locator('table.inventory tbody tr').count();
      check(left === names.length - 1, `the decided item leaves the inbox (${left} left)`);

      await page.locator('table.inventory tbody td:nth-child(2) a').first().click();
      await page.waitForURL(/\/reviews\/\d+$/);
      await page.selectOption('select[name="decision"]', 'keep');
      await page.fill('textarea[name="justification"]', 'deploys the billing service');
      await page.click('button:has-text("Save & next")');
      await page.waitForURL(/decided=1/);
      // A decision can change until sign-off: the decided tab lists both, each changeable.
      await page.goto(`${base}/reviews?state=decided`);
      check((await page.locator('table.inbox tbody tr').count()) === 2, 'the decided tab lists the two decisions');
      check((await page.locator('table.inbox a:has-text("change")').count()) === 2, 'each changeable until sign-off');
      // A hand-over goes only to a person in the directory.
      await page.goto(`${base}/reviews`);
      if ((await page.locator('table.inbox tbody tr').count()) > 0) {
        await page.locator('table.inventory tbody td:nth-child(2) a').first().click();
        await page.waitForURL(/\/reviews\/\d+$/);
        await page.selectOption('select[name="decision"]', 'delegate');
        await page.fill('input[name="to"]', 'attacker@evil.example');
        await page.click('button:has-text("Save & next")');
        await page.waitForLoadState('load');
        const refused = page.locator('[role="alert"]');
        check((await refused.count()) === 1 && (await refused.textContent()).includes('not a person in the directory'), 'a delegation to someone unknown is refused');
        check((await page.locator('input[name="to"]').inputValue()) === 'attacker@evil.example', 'and what was typed is kept');
      }
      const denied = await page.goto(`${base}/campaigns/${campaign}`);
      check(denied.status() === 403, `campaign administration is refused to an owner (${denied.status()})`);
      check(!consoleErrors.some((e) => /Content Security Policy/i.test(e)), 'no CSP violations while reviewing');
      await context.close();
    }
    {
      const { context, page } = await signIn('admin');
      await page.click('nav >> text=Campaigns');
      await page.waitForURL(/\/campaigns$/);
      await axe(context, page.url(), 'the campaigns page');
      await page.goto(`${base}/campaigns/${campaign}`);
      check((await page.locator('dl.facts').textContent()).includes('2 decided'), 'IAM sees the two decisions');
      // With items still pending, closing needs their number confirmed.
      const confirm = page.locator('input[name="confirm_unreviewed"]');
      if ((await confirm.count()) === 1) {
        const n = await confirm.getAttribute('value');
        check((await page.locator('button:has-text("Close with")').textContent()).includes(`${n} unreviewed`), `the close button says ${n} unreviewed`);
        await page.locator('form[action$="/sign-off"] button').click();
        check(new URL(page.url()).pathname === `/campaigns/${campaign}` && (await page.locator('dl.facts').textContent()).includes('open'), 'unconfirmed, nothing closes');
        await confirm.check();
        await shot(page, 'sign-off-confirm');
        await axe(context, page.url(), 'an open campaign with its sign-off confirmation');
      }
      await page.locator('form[action$="/sign-off"] button').click();
      await page.waitForLoadState('load');
      check((await page.locator('dl.facts').textContent()).includes('closed'), 'the campaign is closed');
      // Escalate: what nobody reviewed is on record as the fallback reviewer's.
      await page.goto(`${base}/campaigns/${campaign}?state=unreviewed`);
      const holders = await page.locator('section[aria-labelledby="items"] tbody td:nth-child(5)').allTextContents();
      check(holders.every((h) => h.trim() === 'iam@acme.example'), `the unreviewed items are escalated to the fallback reviewer (${[...new Set(holders)].join(', ')})`);
      await page.goto(`${base}/campaigns/${campaign}`);
      const status = () => page.locator('section[aria-labelledby="remediation"] table tbody td:nth-child(4)').allTextContents();
      await page.click('button:has-text("Dry run")');
      await page.waitForLoadState('load');
      check((await status()).join() === 'planned', `the dry run plans the revocation (${await status()})`);
      await page.click('button:has-text("Carry out revocations")');
      await page.waitForLoadState('load');
      check((await status()).join() === 'done', `the revocation is carried out (${await status()})`);
      await shot(page, 'campaign-closed');
      await axe(context, page.url(), 'a closed campaign');
      const csv = await (await page.request.get(`${base}/campaigns/${campaign}/evidence.csv`)).text();
      const lines = csv.split('\n');
      check(lines.some((l) => l.includes(',revoke,owner@acme.example,') && l.includes('unused since the spring migration')), 'the evidence lists the revoke, by whom and why');
      check(lines.some((l) => l.includes(',keep,owner@acme.example,') && l.includes('deploys the billing service')), 'the evidence lists the keep, by whom and why');
      await context.close();
    }
  }
} catch (e) {
  check(false, `the suite crashed: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(`${failures.length} failure(s); screenshots in ${shots}`);
process.exit(failures.length ? 1 : 0);
