// Single sign-on in the panel (docs/sso.md), in real headless Chromium against
// a real krv-server and a real OpenID provider (the `oidc-provider` npm
// package, tests/oidc-provider/server.mjs, on loopback): "Continue with …"
// logs a new user in with the role from the provider's claims, a refused
// provisioning shows its message on the login page, the account page links
// and unlinks an identity (refusing to unlink the last way to log in), and the
// admin page shows the providers without their secret.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe } from 'node:test'
import { REGISTER_SECRET, WEB, assertLabelled, newPage, shoot, steps } from './harness.mjs'

const PW = 'Correct-Horse-Battery-9'
const SECRET = 'krv-web-client-secret-for-the-tests'
const IDP_DIR = join(WEB, '..', 'tests', 'oidc-provider')

/** Starts the test provider with one client whose callbacks are on `port`; resolves when it prints its issuer. */
function startIdp(port) {
  if (!existsSync(join(IDP_DIR, 'node_modules'))) throw new Error(`run npm ci --prefix ${IDP_DIR}`)
  const base = `http://localhost:${port}`
  const config = {
    port: 0,
    clients: [
      {
        client_id: 'krv',
        client_secret: SECRET,
        redirect_uris: ['test', 'plain'].map((id) => `${base}/api/auth/oidc/${id}/callback`),
        post_logout_redirect_uris: [`${base}/login`],
      },
    ],
  }
  const child = spawn(process.execPath, [join(IDP_DIR, 'server.mjs')], {
    env: { ...process.env, IDP_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  process.once('exit', () => child.exitCode === null && child.kill('SIGKILL'))
  let err = ''
  child.stderr.on('data', (c) => (err += c))
  return new Promise((ok, fail) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error(`the provider did not start:\n${err}`)), 30_000)
    child.on('exit', (code) => fail(new Error(`the provider exited (${code}):\n${err}`)))
    child.stdout.on('data', (chunk) => {
      out += chunk
      const line = out.split('\n').find((l) => l.includes('"issuer"'))
      if (!line) return
      clearTimeout(timer)
      ok({ child, issuer: JSON.parse(line).issuer })
    })
  })
}

function provider(id, issuer, extra) {
  return {
    id,
    name: `IdP ${id}`,
    issuer,
    client_id: 'krv',
    client_secret_env: 'WEB_TEST_IDP_SECRET',
    max_role: 'admin',
    roles: [
      { claim: 'groups', contains: 'hpc-admins', role: 'admin' },
      { claim: 'groups', contains: 'ops', role: 'operator' },
    ],
    ...extra,
  }
}

describe('single sign-on', () => {
  const pages = []
  let idp
  const suite = steps('sso-', pages, {
    localhost: true,
    env: async (port) => {
      idp = await startIdp(port)
      return {
        OIDC_PROVIDERS: JSON.stringify([provider('test', idp.issuer, { provision: true, logout: true }), provider('plain', idp.issuer, { provision: false })]),
        WEB_TEST_IDP_SECRET: SECRET,
      }
    },
  })
  after(() => idp?.child.kill('SIGTERM'))

  /** The next login at the provider completes at once as `sub` with `claims`. */
  async function nextLogin(sub, claims) {
    const r = await fetch(`${idp.issuer}/_test/next-login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sub, claims }),
    })
    assert.ok(r.ok, `next-login: ${r.status} ${await r.text()}`)
  }

  let adminPage
  suite.step('"Continue with" logs a new user in on the next page, with the role from the claims', async () => {
    // An admin with a password first, so the provider's admin is not the first user.
    await suite.call('POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET }, undefined, [201])
    await nextLogin('sub-ada', { preferred_username: 'ada', name: 'Ada Lovelace', email: 'ada@lab.example', groups: ['hpc-admins'] })
    adminPage = await newPage(suite.stack, 'ada')
    pages.push(adminPage)
    await adminPage.goto('/login?next=/tasks')
    // The password form's own button keeps its exact name.
    await adminPage.getByRole('button', { name: 'Log in', exact: true }).waitFor()
    const button = adminPage.getByRole('link', { name: 'Continue with IdP test' })
    assert.match(await button.getAttribute('href'), /^\/api\/auth\/oidc\/test\/start\?next=%2Ftasks$/)
    await assertLabelled(adminPage)
    await shoot(adminPage, 'sso-login')
    await button.click()
    await adminPage.waitForURL('**/tasks')
    await adminPage.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor()
    // An admin's navigation, so the panel knows who is logged in.
    await adminPage.getByRole('link', { name: 'Single sign-on' }).waitFor()
    await adminPage.goto('/account')
    assert.equal(await adminPage.getByTestId('profile-username').textContent(), 'ada')
    assert.equal(await adminPage.getByTestId('profile-role').textContent(), 'admin')
    // The identity it logged in with is listed.
    await adminPage.getByTestId('identities').getByText('ada@lab.example').waitFor()
    suite.noConsoleErrors()
  })

  suite.step('a refused provisioning shows its message on the login page', async () => {
    await nextLogin('sub-nobody', { preferred_username: 'nobody', groups: [] })
    const page = await newPage(suite.stack, 'nobody')
    pages.push(page)
    await page.goto('/login')
    await page.getByRole('link', { name: 'Continue with IdP plain' }).click()
    await page.waitForURL(/\/login\?sso_error=/)
    const alert = page.getByRole('alert')
    await alert.waitFor()
    assert.match(await alert.textContent(), /No account is linked to this identity, and this provider does not create accounts/)
    // No session: the password form is offered again.
    await page.getByLabel('Username').waitFor()
    await shoot(page, 'sso-refused')
    suite.noConsoleErrors()
  })

  suite.step('the account page links an identity and unlinks it', async () => {
    const page = await suite.login('root', PW)
    await page.getByText('No linked identities.').waitFor()
    await nextLogin('sub-root', { preferred_username: 'root-at-idp', email: 'root@lab.example', groups: ['hpc-admins'] })
    await page.getByRole('button', { name: 'Link IdP plain' }).click()
    // Through the provider and back to the account page, still root, now linked.
    await page.waitForURL('**/account')
    const row = page.getByTestId('identities').getByRole('row', { name: /root@lab\.example/ })
    await row.waitFor()
    assert.match(await row.textContent(), /IdP plain/)
    assert.equal(await page.getByTestId('profile-username').textContent(), 'root')
    await assertLabelled(page)
    await shoot(page, 'sso-account')

    await page.getByRole('button', { name: 'Unlink IdP plain root@lab.example' }).click()
    const dialog = page.getByRole('dialog', { name: 'Unlink IdP plain?' })
    await dialog.waitFor()
    await dialog.getByRole('button', { name: 'Unlink' }).click()
    await dialog.waitFor({ state: 'hidden' })
    await page.getByText('Unlinked your IdP plain identity.').waitFor()
    await page.getByText('No linked identities.').waitFor()
    suite.noConsoleErrors()
  })

  suite.step('unlinking the last way to log in shows the server’s refusal', async () => {
    // ada came from the provider: no password, no passkey, one identity.
    await adminPage.goto('/account')
    await adminPage.getByRole('button', { name: 'Unlink IdP test ada@lab.example' }).click()
    const dialog = adminPage.getByRole('dialog', { name: 'Unlink IdP test?' })
    await dialog.getByRole('button', { name: 'Unlink' }).click()
    const alert = dialog.getByRole('alert')
    await alert.waitFor()
    assert.match(await alert.textContent(), /last/i)
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await adminPage.getByTestId('identities').getByText('ada@lab.example').waitFor()
    // The refusal is a 409 the browser logs as a failed resource; nothing else.
    adminPage.errors = adminPage.errors.filter((e) => !/409/.test(e))
    suite.noConsoleErrors()
  })

  suite.step('the admin page shows the providers and mapping without the secret', async () => {
    await adminPage.goto('/sso')
    const card = adminPage.getByTestId('provider-test')
    await card.getByRole('heading', { name: /IdP test/ }).waitFor()
    const text = await card.textContent()
    assert.match(text, /\*{8}/)
    assert.match(text, /WEB_TEST_IDP_SECRET/)
    assert.match(text, /hpc-admins/)
    assert.ok(text.includes(idp.issuer), 'the issuer is shown')
    assert.ok(text.includes('/api/auth/oidc/test/callback'), 'the callback URL is shown')
    assert.ok(!(await adminPage.content()).includes(SECRET), 'the client secret is not on the page')
    await adminPage.getByTestId('provider-plain').getByText('refused', { exact: false }).waitFor()
    await shoot(adminPage, 'sso-admin')
    suite.noConsoleErrors()
  })

  suite.step('logging out of a provider session signs out at the provider too and comes back to the login page', async () => {
    const seen = []
    adminPage.on('framenavigated', (frame) => frame === adminPage.mainFrame() && seen.push(frame.url()))
    await adminPage.getByRole('button', { name: 'Log out' }).click()
    await adminPage.waitForURL('**/login')
    await adminPage.getByLabel('Username').waitFor()
    // The way back led through the provider's end-session endpoint.
    assert.ok(seen.some((u) => u.startsWith(`${idp.issuer}/session/end`)), `went through the provider: ${seen.join(' → ')}`)
    // Our session is over.
    const me = await adminPage.evaluate(async () => (await fetch('/api/auth/me')).status)
    assert.equal(me, 401)
    adminPage.errors = adminPage.errors.filter((e) => !/401/.test(e))
    suite.noConsoleErrors()
  })
})
