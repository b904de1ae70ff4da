// Second factors in the panel (docs/mfa.md), in real headless Chromium against
// a real krv-server of their own: the authenticator app enrolled through the
// security page (codes computed here from the secret the page shows, RFC 6238),
// recovery codes shown once, the login's second step with a code, a recovery
// code or a passkey, passwordless "Sign in with a passkey", the admin's reset
// on the users page, and (a second server, with MFA_REQUIRED_ROLE) the
// enrolment a role requires. Passkeys come from Chromium's virtual
// authenticators; pages open at http://localhost:<port>, the relying party.
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { describe } from 'node:test'
import { REGISTER_SECRET, addAuthenticator, apiCall, assertLabelled, newPage, shoot, steps } from './harness.mjs'

const PW = 'Correct-Horse-Battery-9'
const MFA_KEY = randomBytes(32).toString('hex')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---- RFC 6238 (TOTP): HMAC-SHA-1 over the 30-second step, dynamic truncation.

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  const out = []
  for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(ch)
    assert.ok(i >= 0, `not base32: ${ch}`)
    value = (value << 5) | i
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac('sha1', key).update(msg).digest()
  const offset = mac[mac.length - 1] & 0x0f
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits).padStart(digits, '0')
}

const stepNow = () => Math.floor(Date.now() / 30_000)

// The RFC's own test vector (appendix B, SHA-1, T = 59 s): the helper above is right.
assert.equal(hotp(Buffer.from('12345678901234567890'), Math.floor(59 / 30), 8), '94287082')

/**
 * An authenticator app for one secret. The service accepts the current step
 * ±1 and never a step at or before one already used, so each code is for a
 * step after the last one given (waiting when that would be too far ahead).
 */
function authenticatorApp(secret) {
  const key = base32(secret)
  let last = -Infinity
  return {
    async code() {
      for (;;) {
        const now = stepNow()
        const step = Math.max(now, last + 1)
        if (step <= now + 1) {
          last = step
          return hotp(key, step)
        }
        await sleep(1000)
      }
    },
    /** A code no step the service might accept yields. */
    wrong() {
      const now = stepNow()
      const near = new Set([-2, -1, 0, 1, 2].map((d) => hotp(key, now + d)))
      for (let n = 0; ; n++) {
        const c = String(n).padStart(6, '0')
        if (!near.has(c)) return c
      }
    },
  }
}

// ---- Shared page helpers.

/** The refusals the browser logs ("Failed to load resource") for answers these suites ask for. */
const EXPECTED = /Failed to load resource: the server responded with a status of 40[13] .*@ \S+\/api\/auth\/(login|login\/mfa|login\/passkey\/finish|mfa\/totp\/confirm|me)$/

function assertNoErrors(pages) {
  const errors = pages.flatMap((p) => p.errors).filter((e) => !EXPECTED.test(e))
  assert.deepEqual(errors, [], 'the browser logged errors')
}

/** The password step of the login page; resolves once it was submitted. */
async function submitPassword(page, username) {
  await page.goto('/login')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(PW)
  await page.getByRole('button', { name: 'Log in' }).click()
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.waitForURL('**/login')
}

async function atAccount(page, username) {
  await page.waitForURL('**/account')
  await page.getByTestId('profile-username').filter({ hasText: username }).waitFor()
}

const navLinks = async (page) =>
  (await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).map((t) => t.replace(/\d+$/, '').trim())

async function openSecurity(page) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security', exact: true }).click()
  await page.waitForURL('**/account/security')
  await page.getByTestId('mfa-status').waitFor()
}

const statusOf = (page, what) => page.getByTestId(`status-${what}`).textContent()

/** Enrols the authenticator app through the security page; resolves to the app and the recovery codes shown. */
async function enrolApp(page) {
  await page.getByLabel('Current password').fill(PW)
  await page.getByRole('button', { name: 'Set up authenticator app' }).click()
  const secret = (await page.getByTestId('totp-secret').textContent()).trim()
  const app = authenticatorApp(secret)
  await page.getByLabel('Code from the app').fill(await app.code())
  await page.getByRole('button', { name: 'Confirm', exact: true }).click()
  const shown = page.getByTestId('recovery-codes')
  await shown.waitFor()
  const codes = (await shown.locator('li code').allTextContents()).map((c) => c.trim())
  return { secret, app, codes }
}

// ---- Suite 1: second factors are optional.

describe('second factors in the panel', () => {
  const pages = []
  const suite = steps('mfa-', pages, { localhost: true, env: () => ({ MFA_ENCRYPTION_KEY: MFA_KEY }) })
  const { step } = suite
  let adminCookie
  let aliceId
  let alice // alice's browser, with a platform authenticator
  let app // her authenticator app
  let codes // her recovery codes

  step('an admin and the user alice exist', async () => {
    adminCookie = (await suite.call('POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET }, undefined, [201])).cookie
    aliceId = (await suite.call('POST', '/auth/register', { username: 'alice', password: PW, role: 'user' }, adminCookie, [201])).json.user.id
    alice = await newPage(suite.stack, 'alice')
    pages.push(alice)
    await alice.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.stack.origin })
    await alice.goto('/login')
    await addAuthenticator(alice)
    await submitPassword(alice, 'alice')
    await atAccount(alice, 'alice')
    assert.deepEqual(await navLinks(alice), ['My account', 'Security', 'Tasks', 'VPS', 'My VPS'])
  })

  step('alice enrols the authenticator app: QR code as an image, the key, a wrong code refused, then recovery codes shown once', async () => {
    await openSecurity(alice)
    assert.equal(await statusOf(alice, 'totp'), 'off')
    await alice.getByLabel('Current password').fill(PW)
    await alice.getByRole('button', { name: 'Set up authenticator app' }).click()
    // The QR code is an <img> of the API's SVG (never markup put into the page), and it renders.
    const qr = alice.getByTestId('totp-qr')
    await qr.waitFor()
    assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;charset=utf-8,%3C/)
    assert.ok(await qr.getAttribute('alt'))
    await alice.waitForFunction(() => {
      const img = document.querySelector('[data-testid=totp-qr]')
      return img?.complete && img.naturalWidth > 0
    })
    assert.equal(await alice.locator('main svg').count(), 0, 'no inline SVG')
    const secret = (await alice.getByTestId('totp-secret').textContent()).trim()
    assert.match(secret, /^[A-Z2-7]{32}$/, 'a 160-bit base32 key')
    assert.ok((await alice.getByRole('link', { name: 'open the setup link in the app' }).getAttribute('href')).includes(`secret=${secret}`))
    app = authenticatorApp(secret)
    assert.equal(await alice.getByLabel('Code from the app').getAttribute('autocomplete'), 'one-time-code')
    await assertLabelled(alice)
    await shoot(alice, 'mfa-totp-enrol')

    await alice.getByLabel('Code from the app').fill(app.wrong())
    await alice.getByRole('button', { name: 'Confirm', exact: true }).click()
    await alice.getByRole('alert').waitFor()
    assert.equal(await alice.getByTestId('recovery-codes').count(), 0)

    await alice.getByLabel('Code from the app').fill(await app.code())
    await alice.getByRole('button', { name: 'Confirm', exact: true }).click()
    const shown = alice.getByTestId('recovery-codes')
    await shown.waitFor()
    codes = (await shown.locator('li code').allTextContents()).map((c) => c.trim())
    assert.equal(codes.length, 10)
    assert.equal(new Set(codes).size, 10)
    for (const c of codes) assert.match(c, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/)
    assert.match(await shown.textContent(), /Store them now: they are shown only this once/)
    assert.equal(await statusOf(alice, 'totp'), 'on')
    assert.equal(await statusOf(alice, 'recovery'), '10')
    await shoot(alice, 'mfa-recovery-codes')

    // Copy puts all ten on the clipboard; Download saves them as a text file.
    await shown.getByRole('button', { name: 'Copy codes' }).click()
    await shown.getByRole('button', { name: 'Copied' }).waitFor()
    assert.equal(await alice.evaluate(() => navigator.clipboard.readText()), codes.join('\n'))
    const [download] = await Promise.all([alice.waitForEvent('download'), shown.getByRole('button', { name: 'Download' }).click()])
    assert.equal(download.suggestedFilename(), 'kohakuriver-recovery-codes.txt')
    const saved = await readFile(await download.path(), 'utf8')
    for (const c of codes) assert.ok(saved.includes(c))

    // Once put away, they are not shown again, not even after a reload.
    await shown.getByRole('button', { name: 'I have stored them' }).click()
    await shown.waitFor({ state: 'hidden' })
    await alice.reload()
    await alice.getByTestId('mfa-status').waitFor()
    assert.equal(await statusOf(alice, 'totp'), 'on')
    assert.equal(await alice.getByTestId('recovery-codes').count(), 0)
    assert.ok(!(await alice.content()).includes(codes[0]))
  })

  step('alice logs out and back in: password, then a code from the app (a wrong one shown as an error)', async () => {
    await logOut(alice)
    await submitPassword(alice, 'alice')
    await alice.getByRole('heading', { name: 'Two-step verification' }).waitFor()
    const field = alice.getByLabel('Code from your authenticator app')
    assert.equal(await field.getAttribute('autocomplete'), 'one-time-code')
    assert.equal(await alice.evaluate(() => document.activeElement?.id), 'login-code', 'the code field has focus')
    assert.equal(await alice.getByRole('button', { name: 'Use a passkey' }).count(), 0, 'no passkey yet')
    await assertLabelled(alice)
    await shoot(alice, 'mfa-login-code')
    await field.fill(app.wrong())
    await alice.getByRole('button', { name: 'Verify' }).click()
    await alice.getByRole('alert').waitFor()
    assert.match(alice.url(), /\/login$/)
    await field.fill(await app.code())
    await alice.getByRole('button', { name: 'Verify' }).click()
    await atAccount(alice, 'alice')
  })

  step('a recovery code logs in once (typed in capitals without dashes); used again it is refused', async () => {
    await logOut(alice)
    await submitPassword(alice, 'alice')
    await alice.getByLabel('Use a recovery code instead').check()
    await alice.getByLabel('Recovery code', { exact: true }).fill(codes[0].replace(/-/g, '').toUpperCase())
    await alice.getByRole('button', { name: 'Verify' }).click()
    await atAccount(alice, 'alice')
    await openSecurity(alice)
    assert.equal(await statusOf(alice, 'recovery'), '9')

    await logOut(alice)
    await submitPassword(alice, 'alice')
    await alice.getByLabel('Use a recovery code instead').check()
    await alice.getByLabel('Recovery code', { exact: true }).fill(codes[0])
    await alice.getByRole('button', { name: 'Verify' }).click()
    await alice.getByRole('alert').waitFor()
    // Start over goes back to the password.
    await alice.getByRole('button', { name: 'Start over' }).click()
    await alice.getByLabel('Password').waitFor()
    await alice.getByLabel('Password').fill(PW)
    await alice.getByRole('button', { name: 'Log in' }).click()
    await alice.getByLabel('Code from your authenticator app').fill(await app.code())
    await alice.getByRole('button', { name: 'Verify' }).click()
    await atAccount(alice, 'alice')
  })

  step('new recovery codes (confirmed with the password in a dialog) retire the old ones', async () => {
    await openSecurity(alice)
    await alice.getByRole('button', { name: 'New recovery codes' }).click()
    const dialog = alice.getByRole('dialog', { name: 'New recovery codes' })
    await dialog.waitFor()
    await dialog.getByLabel('Current password').fill(PW)
    await dialog.getByRole('button', { name: 'Make new codes' }).click()
    await dialog.waitFor({ state: 'hidden' })
    const fresh = (await alice.getByTestId('recovery-codes').locator('li code').allTextContents()).map((c) => c.trim())
    assert.equal(fresh.length, 10)
    assert.ok(!fresh.some((c) => codes.includes(c)))
    assert.equal(await statusOf(alice, 'recovery'), '10')
    // An old code no longer passes the second step (checked through the API).
    const first = await apiCall(suite.stack, 'POST', '/auth/login', { username: 'alice', password: PW })
    assert.equal(first.status, 401)
    assert.equal(first.json.code, 'mfa_required')
    const old = await apiCall(suite.stack, 'POST', '/auth/login/mfa', { mfa_token: first.json.mfa_token, recovery_code: codes[1] })
    assert.equal(old.status, 401, JSON.stringify(old.json))
    codes = fresh
    await alice.getByRole('button', { name: 'I have stored them' }).click()
  })

  step('alice adds a named passkey from her device and renames it', async () => {
    await alice.getByLabel('Passkey name').fill('Laptop')
    await alice.getByRole('button', { name: 'Add passkey' }).click()
    await alice.getByRole('status').filter({ hasText: 'Passkey “Laptop” added.' }).waitFor()
    const table = alice.getByTestId('passkeys-table')
    await table.locator('tr[data-passkey="Laptop"]').waitFor()
    assert.equal(await statusOf(alice, 'passkeys'), '1')
    const { credentials } = await alice.cdp.send('WebAuthn.getCredentials', { authenticatorId: alice.authenticatorId })
    assert.equal(credentials.length, 1)
    assert.equal(credentials[0].isResidentCredential, true, 'a discoverable passkey')

    await table.getByRole('button', { name: 'Rename Laptop' }).click()
    const dialog = alice.getByRole('dialog', { name: 'Rename Laptop' })
    await dialog.waitFor()
    assert.equal(await alice.evaluate(() => document.activeElement?.id), 'pk-rename')
    await dialog.getByLabel('New name').fill('Work laptop')
    await dialog.getByRole('button', { name: 'Rename' }).click()
    await dialog.waitFor({ state: 'hidden' })
    await table.locator('tr[data-passkey="Work laptop"]').waitFor()
    assert.equal(await table.locator('tbody tr').count(), 1)
    assert.match(await table.locator('tbody tr').textContent(), /never/)
    await assertLabelled(alice)
    await shoot(alice, 'mfa-security')
  })

  step('she logs out and signs in with the passkey alone: no username, no password', async () => {
    await logOut(alice)
    await alice.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await atAccount(alice, 'alice')
    await openSecurity(alice)
    assert.doesNotMatch(await alice.getByTestId('passkeys-table').locator('tbody tr').textContent(), /never/, 'the use is recorded')
  })

  step('after her password, "Use a passkey" is offered and passes the second step', async () => {
    await logOut(alice)
    await submitPassword(alice, 'alice')
    await alice.getByRole('heading', { name: 'Two-step verification' }).waitFor()
    assert.match(await alice.getByTestId('second-step-intro').textContent(), /passkey/)
    await alice.getByRole('button', { name: 'Use a passkey' }).click()
    await atAccount(alice, 'alice')
  })

  step('the admin sees her factors on the users page and resets them behind a confirmation', async () => {
    const admin = await newPage(suite.stack, 'root')
    pages.push(admin)
    await submitPassword(admin, 'root')
    await atAccount(admin, 'root')
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click()
    const row = admin.locator('tr[data-user="alice"]')
    await row.waitFor()
    assert.equal((await row.getByTestId('user-factors').textContent()).trim(), 'app, 1 passkey')
    assert.equal((await admin.locator('tr[data-user="root"]').getByTestId('user-factors').textContent()).trim(), 'none')
    assert.equal(await admin.locator('tr[data-user="root"]').getByRole('button', { name: 'Reset second factors' }).count(), 0)

    // Cancel first: nothing happens.
    await row.getByRole('button', { name: 'Reset second factors' }).click()
    const dialog = admin.getByRole('dialog', { name: "Reset alice's second factors?" })
    await dialog.waitFor()
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'hidden' })
    assert.equal((await row.getByTestId('user-factors').textContent()).trim(), 'app, 1 passkey')

    await row.getByRole('button', { name: 'Reset second factors' }).click()
    await dialog.waitFor()
    await shoot(admin, 'mfa-admin-reset')
    await dialog.getByRole('button', { name: 'Reset second factors' }).click()
    await dialog.waitFor({ state: 'hidden' })
    await admin.getByRole('status').filter({ hasText: "alice's second factors were reset (3 removed, 1 session(s) ended)" }).waitFor()
    await row.getByTestId('user-factors').filter({ hasText: 'none' }).waitFor()
    const detail = await suite.call('GET', `/auth/users/${aliceId}`, undefined, adminCookie, [200])
    assert.deepEqual(detail.json.mfa, { totp: false, passkeys: 0 })
  })

  step('after the reset her session is over, the password alone logs in, and the passkey no longer does', async () => {
    await alice.reload()
    await alice.waitForURL('**/login**')
    await alice.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await alice.getByRole('alert').waitFor()
    await submitPassword(alice, 'alice')
    await atAccount(alice, 'alice')
    await openSecurity(alice)
    assert.equal(await statusOf(alice, 'totp'), 'off')
    assert.equal(await statusOf(alice, 'passkeys'), '0')
  })

  step('a passkey alone is the second step; it is deleted through the confirm dialog; the app is turned off with a code', async () => {
    await alice.getByLabel('Passkey name').fill('Phone')
    await alice.getByRole('button', { name: 'Add passkey' }).click()
    const table = alice.getByTestId('passkeys-table')
    await table.locator('tr[data-passkey="Phone"]').waitFor()
    // With a passkey as her only factor, the second step offers the passkey alone.
    await logOut(alice)
    await submitPassword(alice, 'alice')
    await alice.getByRole('heading', { name: 'Two-step verification' }).waitFor()
    assert.equal(await alice.getByLabel('Code from your authenticator app').count(), 0)
    assert.equal(await alice.getByLabel('Use a recovery code instead').count(), 0)
    assert.equal(await alice.evaluate(() => document.activeElement?.textContent?.trim()), 'Use a passkey')
    await alice.keyboard.press('Enter')
    await atAccount(alice, 'alice')
    await openSecurity(alice)
    await table.getByRole('button', { name: 'Delete Phone' }).click()
    const dialog = alice.getByRole('dialog', { name: 'Delete Phone?' })
    await dialog.waitFor()
    await dialog.getByRole('button', { name: 'Delete passkey' }).click()
    await dialog.waitFor({ state: 'hidden' })
    await alice.getByText('No passkeys yet.').waitFor()
    assert.equal(await statusOf(alice, 'passkeys'), '0')

    const enrolled = await enrolApp(alice)
    assert.equal(enrolled.codes.length, 10)
    await alice.getByRole('button', { name: 'I have stored them' }).click()
    await alice.getByRole('button', { name: 'Turn off authenticator app' }).click()
    const off = alice.getByRole('dialog', { name: 'Turn off the authenticator app' })
    await off.waitFor()
    await off.getByRole('radio', { name: 'Code from the app' }).check()
    await off.getByRole('textbox', { name: 'Code from the app' }).fill(await enrolled.app.code())
    await off.getByRole('button', { name: 'Turn off' }).click()
    await off.waitFor({ state: 'hidden' })
    await alice.getByTestId('status-totp').filter({ hasText: 'off' }).waitFor()
    // The password alone logs in again.
    assert.equal((await apiCall(suite.stack, 'POST', '/auth/login', { username: 'alice', password: PW })).status, 200)
  })

  step('no page logged an error but the refusals this suite asked for', () => {
    assertNoErrors(pages)
  })
})

// ---- Suite 2: MFA_REQUIRED_ROLE=operator.

describe('a role that requires a second factor', () => {
  const pages = []
  const suite = steps('mfa-policy-', pages, { localhost: true, env: () => ({ MFA_ENCRYPTION_KEY: MFA_KEY, MFA_REQUIRED_ROLE: 'operator' }) })
  const { step } = suite
  let rootCookie
  let root

  step('an admin without a factor gets a session that reaches only the enrolment', async () => {
    rootCookie = (await suite.call('POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET }, undefined, [201])).cookie
    const refused = await suite.call('GET', '/auth/users?limit=5', undefined, rootCookie, [403])
    assert.equal(refused.json.code, 'mfa_enrollment_required')
  })

  step('logging in leads to the security page, with the reason; every other page leads back to it', async () => {
    root = await newPage(suite.stack, 'root')
    pages.push(root)
    await submitPassword(root, 'root')
    await root.waitForURL('**/account/security')
    const why = root.getByTestId('enrolment-required')
    await why.waitFor()
    assert.match(await why.textContent(), /Your role \(admin\) must use a second factor/)
    assert.deepEqual(await navLinks(root), ['Security'])
    for (const path of ['/users', '/account', '/audit', '/tasks']) {
      await root.goto(path)
      await root.waitForURL('**/account/security')
      await why.waitFor()
    }
    await assertLabelled(root)
    await shoot(root, 'mfa-enrolment-required')
  })

  step('enrolling the authenticator app opens the whole panel at once', async () => {
    await enrolApp(root)
    await root.getByTestId('enrolment-done').waitFor()
    assert.equal(await root.getByTestId('enrolment-required').count(), 0)
    assert.deepEqual(await navLinks(root), ['My account', 'Security', 'Overview', 'Users', 'Invitations', 'Groups', 'Approvals', 'Audit', 'Single sign-on', 'API tokens', 'Service accounts', 'Tasks', 'VPS', 'My VPS'])
    await root.getByRole('button', { name: 'I have stored them' }).click()
    await root.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click()
    await root.locator('tr[data-user="root"]').getByTestId('user-factors').filter({ hasText: /^\s*app\s*$/ }).waitFor()
    // The session the API's registration opened is lifted too.
    await suite.call('GET', '/auth/users?limit=5', undefined, rootCookie, [200])
  })

  step('an operator enrols with a passkey instead; a user below the role is not asked', async () => {
    await suite.call('POST', '/auth/register', { username: 'olga', password: PW, role: 'operator' }, rootCookie, [201])
    await suite.call('POST', '/auth/register', { username: 'uma', password: PW, role: 'user' }, rootCookie, [201])
    const olga = await newPage(suite.stack, 'olga')
    pages.push(olga)
    await olga.goto('/login')
    await addAuthenticator(olga)
    await submitPassword(olga, 'olga')
    await olga.waitForURL('**/account/security')
    await olga.getByTestId('enrolment-required').waitFor()
    await olga.getByLabel('Passkey name').fill('Phone')
    await olga.getByRole('button', { name: 'Add passkey' }).click()
    await olga.getByTestId('enrolment-done').waitFor()
    await olga.getByRole('link', { name: 'Go to my account' }).click()
    await atAccount(olga, 'olga')

    const uma = await newPage(suite.stack, 'uma')
    pages.push(uma)
    await submitPassword(uma, 'uma')
    await atAccount(uma, 'uma')
    assert.deepEqual(await navLinks(uma), ['My account', 'Security', 'Tasks', 'VPS', 'My VPS'])
  })

  step('no page logged an error but the refusals this suite asked for', () => {
    assertNoErrors(pages)
  })
})
