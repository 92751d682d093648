// Opens a quorum report.html in headless Chromium (Debian's /usr/bin/chromium) and checks
// it: no console error, no page error, no request other than the file itself (the page must
// be self-contained), every section present, every chart's SVG drawn and of non-zero size.
// Saves a screenshot. Usage: node check.mjs REPORT.html SCREENSHOT.png [--clip-height PX]
// [--sections id,id,...]. Exit 1 with one line per failure naming the section or message.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';

const SECTIONS = ['run', 'metrics', 'equity', 'drawdown', 'weights', 'attribution', 'calibration',
  'breakdown', 'trades', 'daily', 'costs'];

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const clipHeight = Number(opt('--clip-height') || 0);
const sections = (opt('--sections') || SECTIONS.join(',')).split(',').filter(Boolean);
const [report, shot] = args;
if (!report || !shot) {
  console.error('usage: node check.mjs REPORT.html SCREENSHOT.png [--clip-height PX] [--sections id,...]');
  process.exit(2);
}
const url = pathToFileURL(resolve(report)).href;
const failures = [];
const profile = mkdtempSync(join(tmpdir(), 'quorum-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1180, height: 900 },
  offline: true,
});
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') failures.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => failures.push(`failed request: ${r.url()} (${r.failure()?.errorText})`));
  page.on('request', (r) => { if (r.url() !== url) failures.push(`request other than the page itself: ${r.url()}`); });
  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response || !response.ok()) failures.push(`cannot open ${url}`);
  for (const id of sections) {
    const s = await page.$(`section#${id}`);
    if (!s) { failures.push(`section #${id}: missing`); continue; }
    const heading = await s.$eval('h2', (h) => h.textContent.trim()).catch(() => '');
    if (!heading) failures.push(`section #${id}: no heading`);
    const text = (await s.innerText()).trim();
    if (text.length < heading.length + 10) failures.push(`section #${id} (${heading}): empty`);
  }
  const charts = await page.$$eval('figure.chart', (figs) => figs.map((f) => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    const drawn = svg ? svg.querySelectorAll('path, polyline, polygon, rect, circle, line').length : 0;
    const section = f.closest('section');
    return { id: f.id, section: section ? section.id : '?', width: box.width, height: box.height, drawn };
  }));
  for (const c of charts) {
    if (c.width <= 0 || c.height <= 0) failures.push(`section #${c.section}, chart ${c.id}: zero size`);
    if (c.drawn < 3) failures.push(`section #${c.section}, chart ${c.id}: nothing drawn (${c.drawn} shapes)`);
  }
  if (charts.length === 0) failures.push('no chart on the page');
  mkdirSync(dirname(resolve(shot)), { recursive: true });
  if (clipHeight > 0) {
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1180, height: Math.min(clipHeight, height) });
    await page.screenshot({ path: shot });
  } else {
    await page.screenshot({ path: shot, fullPage: true });
  }
  console.log(`${charts.length} charts in ${sections.length} sections checked; screenshot: ${shot}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures.length) {
  for (const f of failures) console.error(`check-report: ${f}`);
  process.exit(1);
}
