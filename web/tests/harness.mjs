// Starts a fresh redis-server and krv-server (in-memory store) serving web/dist,
// and a headless Chromium driven by playwright-core. Everything started here is
// stopped by stop(), also when a test fails.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const DIST = join(WEB, 'dist')
export const SHOTS = join(WEB, 'test-results', 'screenshots')
export const SERVER_BIN = resolve(WEB, process.env.KRV_SERVER_BIN ?? '../target/debug/krv-server')
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
export const REDIS = process.env.REDIS_SERVER_BIN ?? 'redis-server'
export const REGISTER_SECRET = randomBytes(24).toString('hex')

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', fail)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => ok(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function start(cmd, args, env, name) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const log = []
  const keep = (chunk) => {
    log.push(chunk.toString())
    if (log.length > 400) log.shift()
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  child.on('error', (err) => log.push(`${name}: ${err.message}`))
  child.log = log
  child.label = name
  // If the test process dies before stopStack, take the child with it.
  process.once('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return child
}

async function waitReady(url, child, timeoutMs) {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${child.label} exited (${child.exitCode}):\n${child.log.join('')}`)
    try {
      const r = await fetch(url)
      if (r.ok) return
    } catch {
      // not listening yet
    }
    await sleep(150)
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${child.log.join('')}`)
}

async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await gone
  clearTimeout(timer)
}

/**
 * `options.env(port)`: extra settings of the server (or a promise of them), which may name its port.
 * `options.localhost`: the pages open at http://localhost:<port>, which is
 * also the server's PUBLIC_URL, so passkeys have a relying party (an IP
 * address cannot be one) and the logins' CSRF check sees the page's origin as
 * the service's own. Node's API calls keep going to 127.0.0.1 (they send no
 * Origin, so they pass that check).
 */
export async function startStack(options = {}) {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST}/index.html missing: run npm run build`)
  if (!existsSync(SERVER_BIN)) throw new Error(`krv-server not found at ${SERVER_BIN}: build it (cargo build -p krv-server) or set KRV_SERVER_BIN`)
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_BIN`)
  const redisPort = await freePort()
  const redis = start(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, 'redis-server')
  const port = await freePort()
  // May be async: a test can start a service of its own that needs the port first.
  const extra = await options.env?.(port)
  const serverEnv = {
    SESSION_SIGNING_KEY: randomBytes(32).toString('hex'),
    ADMIN_REGISTER_SECRET: REGISTER_SECRET,
    COOKIE_SECURE: 'false',
    PORT: String(port),
    BIND_ADDRESS: '127.0.0.1',
    DYNAMODB_DATA_PATH: ':memory:',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    WEB_DIR: DIST,
    ARGON2_MEMORY_KIB: '64',
    ARGON2_ITERATIONS: '1',
    LOG_FORMAT: process.env.LOG_FORMAT ?? 'text',
    ...(options.localhost ? { PUBLIC_URL: `http://localhost:${port}` } : {}),
    ...extra,
  }
  const server = start(SERVER_BIN, [], serverEnv, 'krv-server')
  const base = `http://127.0.0.1:${port}`
  // Where the browser's pages live (relative page.goto paths resolve against it).
  const origin = options.localhost ? `http://localhost:${port}` : base
  const stack = { base, origin, redis, server, serverEnv, browser: null }
  try {
    await waitReady(`${base}/api/health/ready`, server, 60_000)
    // launch() gives the browser a fresh temporary profile (user data dir) of its own.
    stack.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    })
  } catch (err) {
    await stopStack(stack)
    throw err
  }
  mkdirSync(SHOTS, { recursive: true })
  return stack
}

/**
 * Stops the stack's krv-server and starts it again on the same port, Redis
 * and signing key, with `env` changed (e.g. a setting read only at start).
 * The store outlives it only when DYNAMODB_DATA_PATH is a file.
 */
export async function restartServer(stack, env = {}) {
  await stopChild(stack.server)
  stack.serverEnv = { ...stack.serverEnv, ...env }
  stack.server = start(SERVER_BIN, [], stack.serverEnv, 'krv-server')
  await waitReady(`${stack.base}/api/health/ready`, stack.server, 60_000)
}

export async function stopStack(stack) {
  if (!stack) return
  await stack.browser?.close().catch(() => undefined)
  await stopChild(stack.server)
  await stopChild(stack.redis)
}

/**
 * A fresh browser context (its own cookies) and page, recording every console
 * error and uncaught exception into `errors`.
 */
export async function newPage(stack, label) {
  const context = await stack.browser.newContext({ baseURL: stack.origin, viewport: { width: 1280, height: 800 } })
  context.setDefaultTimeout(10_000)
  const page = await context.newPage()
  page.errors = []
  // Every console error fails the test (deep links are served index.html
  // with 200, so a navigation never logs a 404).
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    page.errors.push(`[${label}] console: ${msg.text()} @ ${msg.location().url}`)
  })
  page.on('pageerror', (err) => page.errors.push(`[${label}] pageerror: ${err.message}`))
  return page
}

/**
 * Gives the page a platform authenticator of its own: Chromium's virtual
 * authenticator (DevTools protocol `WebAuthn.addVirtualAuthenticator`), which
 * answers `navigator.credentials.create` and `.get` at once, keeps
 * discoverable passkeys and verifies the user (as a PIN or a fingerprint
 * would). Sets `page.cdp` and `page.authenticatorId` (for
 * `WebAuthn.getCredentials` and the like).
 */
export async function addAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })
  page.cdp = cdp
  page.authenticatorId = authenticatorId
  return page
}

/** Full-page screenshots at 1280 and 390 px; fails when the page scrolls sideways. */
export async function shoot(page, name) {
  const problems = []
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 800 })
    await page.waitForTimeout(100)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth)
    if (overflow > width + 1) problems.push(`${name} at ${width}px is ${overflow}px wide`)
    await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true })
  }
  await page.setViewportSize({ width: 1280, height: 800 })
  if (problems.length) throw new Error(problems.join('; '))
}

/** Every input, select and textarea on the page has an accessible label. */
export async function assertLabelled(page) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden')
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
      .map((el) => el.outerHTML.slice(0, 80)),
  )
  assert.deepEqual(unlabelled, [], 'controls without a label')
}

/** JSON API calls from Node, as the CLI would (no Origin header, so no CSRF check). */
export async function apiCall(stack, method, path, body, cookie) {
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (cookie) headers.Cookie = cookie
  const r = await fetch(`${stack.base}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = text
  }
  const setCookie = r.headers.getSetCookie?.() ?? []
  const session = setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith('kohakuriver_session='))
  return { status: r.status, json, cookie: session, headers: r.headers }
}

/**
 * A suite of steps that build on each other, with its own stack: after a
 * failure the remaining steps are skipped and every open page is
 * photographed for the post-mortem (`<label>failure-<n>.png`). `pages` is the
 * list the suite opens its pages into; `noConsoleErrors` asserts none of them
 * logged an error.
 */
export function steps(label, pages, options = {}) {
  const suite = { stack: undefined }
  before(async () => {
    suite.stack = await startStack(options)
  })
  after(async () => {
    await stopStack(suite.stack)
  })
  let broken = false
  suite.step = (name, fn) => {
    test(name, async (t) => {
      if (broken) return t.skip('an earlier step failed')
      try {
        await fn()
      } catch (err) {
        broken = true
        for (const [i, page] of pages.entries()) {
          if (!page.isClosed()) {
            await page.screenshot({ path: join(SHOTS, `${label}failure-${i}.png`), fullPage: true }).catch(() => undefined)
          }
        }
        throw err
      }
    })
  }
  // An API call that must answer one of `expect`.
  suite.call = async (method, path, body, cookie, expect) => {
    const r = await apiCall(suite.stack, method, path, body, cookie)
    assert.ok(expect.includes(r.status), `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`)
    return r
  }
  // A new page, logged in through the login form.
  suite.login = async (username, password) => {
    const page = await newPage(suite.stack, username)
    pages.push(page)
    await page.goto('/login')
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL('**/account')
    return page
  }
  suite.noConsoleErrors = () => {
    assert.deepEqual(
      pages.flatMap((p) => p.errors),
      [],
      'the browser logged errors',
    )
  }
  return suite
}

