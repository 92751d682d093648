// Screenshots each section of a report separately (for looking at the design):
// node sections.mjs REPORT.html OUT_DIR
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mkdirSync } from 'node:fs';

const [report, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
await page.goto(pathToFileURL(resolve(report)).href);
for (const s of await page.$$('section')) {
  const id = await s.getAttribute('id');
  await s.screenshot({ path: `${out}/${id}.png` });
}
await browser.close();
