import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

// Debian's Chromium driven by playwright-core. The flags keep Chromium's
// own background connections (updates, sync, field trials) from failing
// here by the dozen; --no-sandbox because tests may run as root.

export const CHROMIUM = '/usr/bin/chromium'

export const browserUnavailable = () =>
  existsSync(CHROMIUM) ? undefined : "Debian's chromium is not installed"

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}
