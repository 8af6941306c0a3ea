// The review site of a real run in headless Chromium (docs/REVIEW.md), driven by
// playwright-core over the DevTools protocol. Run by scripts/review-browser-test.sh, which
// makes the run and installs what this needs.
//
// usage: node scripts/review-browser-test.cjs RUN_DIR OUT_DIR
//   env PLAYWRIGHT_CORE: the playwright-core package directory; CHROMIUM: the browser.
//
// Chromium is started here, with exactly the flags this machine needs and a fresh profile,
// and playwright connects to it; nothing is downloaded.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { chromium } = require(path.resolve(process.env.PLAYWRIGHT_CORE));

const [runDir, outDir] = process.argv.slice(2).map((p) => path.resolve(p));
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
let passed = 0;

function check(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  passed += 1;
  console.log('ok - ' + what);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function startChromium(profile) {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--user-data-dir=' + profile, '--remote-debugging-port=0', 'about:blank',
  ];
  const proc = spawn(browserPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const portFile = path.join(profile, 'DevToolsActivePort');
  for (let i = 0; i < 300; i += 1) {
    if (fs.existsSync(portFile)) {
      const port = fs.readFileSync(portFile, 'utf8').split('\n')[0].trim();
      if (port) return { proc, port };
    }
    if (proc.exitCode !== null) break;
    await sleep(100);
  }
  proc.kill('SIGKILL');
  throw new Error('chromium did not start:\n' + stderr.slice(-2000));
}

async function main() {
  const checkpoint = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoint.json'), 'utf8'));
  const lineage = JSON.parse(fs.readFileSync(path.join(runDir, 'lineage.json'), 'utf8'));
  const candidates = checkpoint.rounds.reduce((n, r) => n + r.candidates.length, 0);
  const shipped = checkpoint.rounds.filter((r) => r.shipped).length;
  const index = 'file://' + path.join(runDir, 'review', 'index.html');

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hx-review-chromium-'));
  const { proc, port } = await startChromium(profile);
  let browser;
  try {
    browser = await chromium.connectOverCDP('http://127.0.0.1:' + port);
    const context = browser.contexts()[0] || (await browser.newContext());
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    const remote = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) remote.push(r.url()); });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

    await page.goto(index);
    // The lineage: one node per harness, the seed and every candidate, shipped or rejected.
    const nodes = await page.locator('#lineage-tree li.node').count();
    check(nodes === candidates + 1, `lineage shows ${nodes} nodes = 1 seed + ${candidates} candidates`);
    check(nodes === lineage.nodes.length, 'lineage node count equals lineage.json');
    check((await page.locator('#lineage-tree li.node.shipped').count()) === shipped,
      `${shipped} shipped node(s) marked`);
    // A shipped change as a diff, its provenance comment visible.
    check(shipped > 0, 'the run shipped a change');
    const prov = page.locator('#shipped .diff .add.prov').first();
    check(await prov.isVisible(), 'a diff is shown');
    check(/# evolved r\d+:/.test(await prov.textContent()), 'the diff carries its provenance comment');
    check(await page.locator('.sim').first().isVisible(), 'the page says the model is simulated');
    // A hostile file name is text, not markup.
    const h1 = await page.locator('h1').textContent();
    check(h1.includes('<img src=x onerror='), 'the hostile file name shows as text');
    check((await page.locator('img').count()) === 0, 'no element came from the hostile string');
    check((await page.title()) !== 'PWNED', 'no script from the run ran');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 1280, `no horizontal scroll at 1280 px (scrollWidth ${width})`);
    fs.mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, 'index-top.png') });
    await page.screenshot({ path: path.join(outDir, 'index.png'), fullPage: true });

    // Keyboard: Tab to the first excerpt link, Enter opens its episode at the evidence step.
    let found = false;
    for (let i = 0; i < 600 && !found; i += 1) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => {
        const a = document.activeElement;
        return !!a && a.classList.contains('episode-link') && !!a.closest('#catalog');
      });
    }
    check(found, 'Tab reaches an excerpt link');
    const href = await page.evaluate(() => document.activeElement.getAttribute('href'));
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    check(page.url().includes('/episodes/') && page.url().includes('#step-'), 'Enter opens the episode at its step: ' + href);
    const step = decodeURIComponent(new URL(page.url()).hash.slice(1));
    check(await page.locator('section.step#' + step).isVisible(), 'the evidence step is on the page');
    check(await page.locator('section.step#' + step + '.current').count() === 1, 'the evidence step is the current one');
    check((await page.locator('section.step').count()) > 1, 'the episode has its steps');
    check(await page.locator('#outcome').isVisible(), 'the end reason is shown');
    check((await page.locator('li.ev-reply').count()) > 0, 'model replies are shown');
    check((await page.locator('li.ev-result').count()) > 0, 'tool results are shown');
    await page.screenshot({ path: path.join(outDir, 'episode.png') });
    await page.screenshot({ path: path.join(outDir, 'episode-full.png'), fullPage: true });
    // j and k step through the trace (from the last step, k goes back first).
    const position = () => page.evaluate(() => {
      const steps = Array.from(document.querySelectorAll('section.step'));
      return steps.findIndex((s) => s.classList.contains('current'));
    });
    const last = (await page.locator('section.step').count()) - 1;
    if ((await position()) === last) {
      await page.keyboard.press('k');
      check((await position()) === last - 1 && page.url().endsWith('#' + (await page.evaluate(() => document.querySelector('section.step.current').id))), 'k moves to the previous step');
    }
    const from = await position();
    await page.keyboard.press('j');
    check((await position()) === from + 1, 'j moves to the next step');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('b')]);
    check(page.url().startsWith(index), 'b goes back to the review');

    // Click: an episode of the held-out comparison.
    const link = page.locator('#held-out .episode-link').first();
    check((await link.count()) === 1, 'the held-out comparison links episodes');
    await Promise.all([page.waitForNavigation(), link.click()]);
    check(/Episode: task \d+/.test(await page.locator('h1').textContent()), 'a click opens an episode');

    check(remote.length === 0, 'no request left the file system: ' + remote.join(', '));
    check(errors.length === 0, 'no script error: ' + errors.join('; '));
  } finally {
    if (browser) await browser.close().catch(() => {});
    proc.kill('SIGKILL');
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(`${passed} passed, 0 failed`);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
