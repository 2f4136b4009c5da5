// Clicks through a page of `dlc explain` in headless Chromium, as a student
// would: a DSL line, then what it became, then the way back. Prints one
// fact per line for FileCheck; exits non-zero if the page cannot be driven.
//   node explain_page.mjs PAGE.html DSL_LINE [SCREENSHOT.png]
import { chromium } from 'playwright-core';

const [page_path, line, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // As root (CI) Chromium refuses to start with its sandbox.
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  page.on('request', r => { if (!r.url().startsWith('file:')) errors.push('fetched ' + r.url()); });
  await page.goto('file://' + page_path);

  const tabs = async () => page.$$eval('#tabs button', bs => bs.map(b => b.textContent));
  const highlighted = async panel =>
    page.$$eval(`#${panel} .hl`, es => es.length);

  // 1. A DSL line: every view that computes it lights up, and says so.
  await page.click(`[id="L:${line}"]`);
  console.log('selected:', await page.evaluate(() => document.body.dataset.selected));
  console.log('tabs:', (await tabs()).join(' | '));
  for (const panel of ['p-ir', 'p-kernels', 'p-memory', 'p-asm'])
    console.log(`${panel} highlighted: ${await highlighted(panel)}`);

  // 2. The asm tab, and a highlighted instruction in it.
  await page.click('#tabs button[data-panel="p-asm"]');
  console.log('asm tab visible:', await page.isVisible('#p-asm'));
  const first = page.locator('#p-asm .l.hl').first();
  console.log('an asm line of it:', (await first.textContent()).trim());

  // 3. The way back: an asm line of another DSL line selects that line in
  //    the DSL pane and scrolls it into view.
  const other = page.locator('#p-asm .l[data-locs]:not(.hl)').first();
  const back = (await other.getAttribute('data-locs')).split(' ')[0];
  await other.click();
  console.log('back to:', back);
  const src = page.locator(`[id="L:${back}"]`);
  console.log('DSL line highlighted:', await src.evaluate(e => e.classList.contains('hl')));
  console.log('DSL line in view:', await src.evaluate(e => {
    const r = e.getBoundingClientRect(), pane = e.closest('#dsl').getBoundingClientRect();
    return r.top >= pane.top && r.bottom <= pane.bottom;
  }));
  console.log('still on the asm tab:', await page.isVisible('#p-asm'));

  if (screenshot) {
    await page.click(`[id="L:${line}"]`);
    await page.screenshot({ path: screenshot });
  }
  console.log('page errors:', errors.length, errors.slice(0, 3).join('; '));
} finally {
  await browser.close();
}
