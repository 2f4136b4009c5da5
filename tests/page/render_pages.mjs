// Loads each page of `dlc explain` given in headless Chromium, clicks the
// first DSL line that became assembly, and prints per page the tabs, how
// many elements lit up and any page error: every example's page must render
// and respond, not only the one explain_page.mjs walks through.
//   node render_pages.mjs PAGE.html...
import { chromium } from 'playwright-core';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  for (const path of process.argv.slice(2)) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    const errors = [];
    page.on('pageerror', e => errors.push(e.message));
    page.on('request', r => { if (!r.url().startsWith('file:')) errors.push('fetched ' + r.url()); });
    await page.goto('file://' + path);
    const line = await page.evaluate(() => {
      const inAsm = new Set();
      document.querySelectorAll('#p-asm [data-locs]').forEach(e =>
        e.getAttribute('data-locs').split(' ').forEach(l => inAsm.add(l)));
      const src = [...document.querySelectorAll('#dsl .src')]
        .find(e => inAsm.has(e.getAttribute('data-locs')));
      return src ? src.getAttribute('data-locs') : null;
    });
    let lit = 0;
    if (line) {
      await page.click(`[id="L:${line}"]`);
      lit = await page.$$eval('.panel .hl', es => es.length);
    }
    const tabs = await page.$$eval('#tabs button', bs => bs.length);
    console.log(`${path.split('/').pop()}: ${tabs} tabs, ${line} lights ${lit} elements, ` +
                `${errors.length} page errors ${errors.slice(0, 2).join('; ')}`);
    await page.close();
  }
} finally {
  await browser.close();
}
