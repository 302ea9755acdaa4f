// Headless Chromium (Debian's package, installed by .ci/run) driven by playwright-core.
// Tests that need it skip with the reason when it is missing on this machine.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Path of a Chromium binary, or undefined. */
function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

/** Why browser tests cannot run here (for `skip`), or false when they can. */
export function browserSkipReason(): string | false {
  return chromiumPath() ? false : 'no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH); .ci/run installs it';
}

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no Chromium');
  // Chromium's own temporary files (PulseAudio's pulse-* folder among them) go to a folder
  // of its own, removed when it exits, so the test run's leak check sees none of them.
  const tmp = mkdtempSync(join(tmpdir(), 'chromium-'));
  const browser = await chromium.launch({
    executablePath,
    env: { ...process.env, TMPDIR: tmp },
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    // Autoplay without a gesture: the preview is muted, as a user's click would allow.
    // The rest keep Chromium off the network: only the pages the tests serve on loopback.
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    timeout: 30_000,
  }).catch((err: unknown) => { rmSync(tmp, { recursive: true, force: true }); throw err; });
  browser.on('disconnected', () => rmSync(tmp, { recursive: true, force: true }));
  return browser;
}

/** A page that records console errors, page errors and failed requests. */
export interface WatchedPage { page: Page; context: BrowserContext; errors: string[] }

export async function openPage(browser: Browser, opts: { httpCredentials?: { username: string; password: string } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ httpCredentials: opts.httpCredentials, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e: Error) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A stream the test ends itself (preview stopped, client ended) is not a page fault.
    const f = r.failure()?.errorText ?? '';
    if (!f.includes('ERR_ABORTED')) errors.push(`request failed: ${r.url()} ${f}`);
  });
  return { page, context, errors };
}
