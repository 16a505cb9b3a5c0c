// Drives headless Chromium for tests/tests/combiner_report.rs: a plan of page visits in, what the
// browser saw out. Uses the npm packages `playwright-core` (to drive the system Chromium) and
// `axe-core` (accessibility rules), installed in .tools/npm by .ci/run.
//
//   node drive.cjs <plan.json>      (environment: NPM_MODULES, CHROMIUM_BIN)
//
// plan: { "visits": [ { "url", "javaScript": false, "axe": false,
//                        "actions": [ {"fill": {"id": "value"}} | {"select": {"id": "value"}}
//                                   | {"click": "css selector"} | {"toggle": "css selector"}
//                                   | {"screenshot": "path"} ] } ] }
// `click` waits for the navigation it starts; `toggle` clicks without navigating (a <summary>). Visits without JavaScript prove the
// report works without it; axe needs JavaScript, so axe visits run in a second context (which
// bypasses the page's CSP to inject axe).
//
// Output (stdout, JSON): [ { "url": final URL, "status", "html": serialised DOM,
//                            "violations": [ { "id", "impact", "help", "targets" } ] } ]
'use strict';
const fs = require('fs');
const path = require('path');

const modules = process.env.NPM_MODULES;
if (!modules) {
  console.error('NPM_MODULES (the node_modules holding playwright-core and axe-core) is not set');
  process.exit(2);
}
const { chromium } = require(path.join(modules, 'playwright-core'));
const axeSource = fs.readFileSync(path.join(modules, 'axe-core', 'axe.min.js'), 'utf8');

async function main() {
  const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic'],
  });
  const contexts = {};
  const context = async (js) => {
    const key = js ? 'js' : 'nojs';
    if (!contexts[key]) {
      contexts[key] = await browser.newContext({
        javaScriptEnabled: js,
        bypassCSP: js,
        viewport: { width: 1280, height: 900 },
      });
    }
    return contexts[key];
  };
  const out = [];
  try {
    for (const [index, visit] of plan.visits.entries()) {
      const page = await (await context(Boolean(visit.axe) || Boolean(visit.javaScript))).newPage();
      const response = await page.goto(visit.url, { waitUntil: 'load' });
      let status = response ? response.status() : 0;
      for (const action of visit.actions || []) {
        process.stderr.write(`visit ${index} (${page.url()}): ${JSON.stringify(action)}\n`);
        if (action.fill) {
          for (const [id, value] of Object.entries(action.fill)) await page.fill(`#${id}`, value);
        } else if (action.select) {
          for (const [id, value] of Object.entries(action.select)) {
            await page.selectOption(`#${id}`, value);
          }
        } else if (action.click) {
          const [nav] = await Promise.all([
            page.waitForNavigation({ waitUntil: 'load' }),
            page.click(action.click),
          ]);
          status = nav ? nav.status() : status;
        } else if (action.toggle) {
          await page.click(action.toggle);
        } else if (action.screenshot) {
          await page.screenshot({ path: action.screenshot, fullPage: true });
        } else {
          throw new Error(`unknown action ${JSON.stringify(action)}`);
        }
      }
      let violations = [];
      if (visit.axe) {
        await page.evaluate(axeSource);
        const results = await page.evaluate(() =>
          // WCAG 2.1 AA and best practice, as the UK public-sector regulations ask.
          window.axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
            resultTypes: ['violations'],
          }),
        );
        violations = results.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => n.target.join(' ')),
        }));
      }
      out.push({ url: page.url(), status, html: await page.content(), violations });
      await page.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
