// Renders every golden email (services/mail/testdata/golden/*.html, written
// by `go test ./services/mail -run Golden -update`) in Debian's chromium, as
// a phone (390 px) and a desktop mail pane (700 px) would show it, in light
// and in dark mode, and fails when:
//   - the layout is wider than the screen (a reader would have to scroll
//     sideways to read or to reach the link);
//   - the button or the link written out to copy is missing, hidden or cut
//     off;
//   - any visible text is hard to read against what is behind it (WCAG AA
//     contrast, 4.5:1), which is how a colour that holds in only one scheme
//     shows up;
//   - the email makes the browser fetch anything (no images, fonts, style
//     sheets or tracking).
// Screenshots of every case go to ARTIFACTS as email-<name>-<width>[-dark].png.
//
// Environment: GOLDEN (the directory of golden files), ARTIFACTS, CHROMIUM.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const { GOLDEN, ARTIFACTS } = process.env;
for (const [k, v] of Object.entries({ GOLDEN, ARTIFACTS })) {
  if (!v) throw new Error(`${k} is not set`);
}
const files = readdirSync(GOLDEN).filter((f) => f.endsWith('.html')).sort();
assert.ok(files.length >= 12, `only ${files.length} golden HTML emails in ${GOLDEN}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// inspect runs in the page: what the checks need, measured by the browser.
function inspect() {
  const rgba = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c);
    const p = m ? m[1].split(/[ ,/]+/).filter(Boolean).map(Number) : [0, 0, 0, 0];
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const luminance = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  const canvas = dark ? [18, 18, 18, 1] : [255, 255, 255, 1];
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) return c;
    }
    return canvas;
  };
  const visible = (el) => {
    const s = getComputedStyle(el);
    return el.getClientRects().length > 0 && s.visibility !== 'hidden' && s.display !== 'none' && Number(s.opacity) > 0;
  };
  const lowContrast = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.data.trim() || !visible(el)) continue;
    const fg = rgba(getComputedStyle(el).color);
    const l1 = luminance(fg), l2 = luminance(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) lowContrast.push(`${ratio.toFixed(2)}:1 "${n.data.trim().slice(0, 40)}"`);
  }
  const box = (a) => { const r = a.getBoundingClientRect(); return { left: r.left, right: r.right, width: r.width, height: r.height }; };
  const anchors = [...document.querySelectorAll('a[href]')].map((a) => ({
    href: a.getAttribute('href'), text: a.textContent.trim(), visible: visible(a), box: box(a),
  }));
  return {
    scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    innerWidth: window.innerWidth, anchors, lowContrast, lang: document.documentElement.lang,
  };
}

let checked = 0;
try {
  for (const file of files) {
    const html = readFileSync(join(GOLDEN, file), 'utf8');
    const name = file.replace(/\.html$/, '');
    for (const width of [390, 700]) {
      for (const scheme of ['light', 'dark']) {
        const where = `${file} at ${width} px, ${scheme}`;
        const page = await browser.newPage({ viewport: { width, height: 640 }, colorScheme: scheme, deviceScaleFactor: 1 });
        const fetched = [];
        await page.route('**/*', (route) => { fetched.push(route.request().url()); return route.abort(); });
        await page.setContent(html, { waitUntil: 'load' });
        const got = await page.evaluate(inspect);
        assert.deepEqual(fetched, [], `${where}: the email fetched something`);
        assert.ok(got.scrollWidth <= got.innerWidth, `${where}: ${got.scrollWidth} px wide in a ${got.innerWidth} px window`);
        // The link is the anchor written out as its own text; the button is
        // the other anchor to the same place.
        const shown = got.anchors.filter((a) => a.text === a.href);
        assert.ok(shown.length >= 1, `${where}: no link written out to copy`);
        const link = shown[0].href;
        const button = got.anchors.find((a) => a.href === link && a.text !== link);
        assert.ok(button, `${where}: no button to ${link}`);
        for (const [what, a] of [['button', button], ['link', shown[0]]]) {
          assert.ok(a.visible && a.box.width > 0 && a.box.height > 0, `${where}: the ${what} is not visible`);
          assert.ok(a.box.left >= 0 && a.box.right <= width, `${where}: the ${what} is cut off (${a.box.left}–${a.box.right})`);
        }
        assert.ok(button.box.height >= 40, `${where}: the button is ${button.box.height} px high, too small to tap`);
        assert.deepEqual(got.lowContrast, [], `${where}: text below 4.5:1 contrast`);
        assert.match(got.lang, /^[a-z]{2}$/, `${where}: no lang attribute`);
        const suffix = scheme === 'dark' ? '-dark' : '';
        await page.screenshot({ path: join(ARTIFACTS, `email-${name}-${width}${suffix}.png`), fullPage: true });
        await page.close();
        checked++;
      }
    }
  }
  console.log(`emails: ${files.length} emails × 2 widths × 2 schemes checked, screenshots in ${ARTIFACTS}`);
} finally {
  await browser.close();
}
assert.equal(checked, files.length * 4);
