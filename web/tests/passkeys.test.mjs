// Real passkeys: Chromium's virtual authenticators (DevTools protocol
// `WebAuthn.addVirtualAuthenticator`) answer `navigator.credentials.create`
// and `.get` on a page of the service's own origin, http://localhost:<port>
// (PUBLIC_URL: the relying party is `localhost`; an IP address cannot be
// one). Each page is a device with an authenticator of its own.
import assert from 'node:assert/strict'
import { addAuthenticator, newPage, REGISTER_SECRET, steps } from './harness.mjs'

const PASSWORD = 'Correct-Horse-Battery-9'
const pages = []
const suite = steps('passkeys-', pages, { localhost: true })

/** What the page side needs: base64url ↔ ArrayBuffer, JSON API calls with its cookies, the ceremonies. */
function install() {
  const b2a = (s) => {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/')
    const bin = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '='))
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer
  }
  const a2b = (buf) =>
    btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '')
  const api = async (method, path, body) => {
    const r = await fetch(`/api${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await r.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = text
    }
    return { status: r.status, json }
  }
  const creation = (options) => {
    const pk = structuredClone(options.publicKey)
    pk.challenge = b2a(pk.challenge)
    pk.user.id = b2a(pk.user.id)
    for (const c of pk.excludeCredentials ?? []) c.id = b2a(c.id)
    return { publicKey: pk }
  }
  const request = (options) => {
    const pk = structuredClone(options.publicKey)
    pk.challenge = b2a(pk.challenge)
    for (const c of pk.allowCredentials ?? []) c.id = b2a(c.id)
    return { publicKey: pk }
  }
  const assertion = (cred) => ({
    id: cred.id,
    rawId: a2b(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: a2b(cred.response.authenticatorData),
      clientDataJSON: a2b(cred.response.clientDataJSON),
      signature: a2b(cred.response.signature),
      userHandle: cred.response.userHandle ? a2b(cred.response.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults(),
  })
  window.krv = {
    api,
    async register(name) {
      const started = await api('POST', '/auth/mfa/webauthn/register/start')
      if (started.status !== 200) return { step: 'start', ...started }
      const cred = await navigator.credentials.create(creation(started.json.options))
      const credential = {
        id: cred.id,
        rawId: a2b(cred.rawId),
        type: cred.type,
        response: {
          attestationObject: a2b(cred.response.attestationObject),
          clientDataJSON: a2b(cred.response.clientDataJSON),
          transports: cred.response.getTransports(),
        },
        extensions: cred.getClientExtensionResults(),
      }
      const body = { ceremony_id: started.json.ceremony_id, name, credential }
      return { ...(await api('POST', '/auth/mfa/webauthn/register/finish', body)), body, options: started.json.options }
    },
    // Passwordless: no username, the authenticator offers its discoverable passkey.
    async passwordless() {
      const started = await api('POST', '/auth/login/passkey/start')
      if (started.status !== 200) return { step: 'start', ...started }
      const cred = await navigator.credentials.get(request(started.json.options))
      const body = { ceremony_id: started.json.ceremony_id, credential: assertion(cred) }
      return { ...(await api('POST', '/auth/login/passkey/finish', body)), body, options: started.json.options }
    },
    // The second step after a password.
    async secondFactor(mfaToken) {
      const started = await api('POST', '/auth/login/webauthn/start', { mfa_token: mfaToken })
      if (started.status !== 200) return { step: 'start', ...started }
      const cred = await navigator.credentials.get(request(started.json.options))
      const body = { mfa_token: mfaToken, ceremony_id: started.json.ceremony_id, credential: assertion(cred) }
      return { ...(await api('POST', '/auth/login/webauthn/finish', body)), body, options: started.json.options }
    },
  }
}

const devices = {}

/** A fresh browser (its own cookies) at the service's localhost origin, with a platform authenticator of its own. */
async function device(label) {
  const page = await newPage(suite.stack, label)
  pages.push(page)
  await page.goto('/api/health')
  await addAuthenticator(page)
  await page.evaluate(install)
  return page
}

const inPage = (page, fn, arg) => page.evaluate(fn, arg)
const api = (page, method, path, body) => inPage(page, ([m, p, b]) => window.krv.api(m, p, b), [method, path, body])
const passwordLogin = (page, username) => api(page, 'POST', '/auth/login', { username, password: PASSWORD })

let aliceId
let adminCookie
let replay

suite.step('an admin and the user alice exist', async () => {
  const admin = await suite.call('POST', '/auth/register', { username: 'admin', password: PASSWORD, register_secret: REGISTER_SECRET }, undefined, [201])
  adminCookie = admin.cookie
  const alice = await suite.call('POST', '/auth/register', { username: 'alice', password: PASSWORD, role: 'user' }, adminCookie, [201])
  aliceId = alice.json.user.id
})

suite.step('alice registers two named passkeys, one on each device', async () => {
  // Both devices log in first: once she has a passkey, a password is not enough.
  for (const label of ['laptop', 'phone']) {
    devices[label] = await device(label)
    assert.equal((await passwordLogin(devices[label], 'alice')).status, 200)
  }
  for (const [label, name] of [
    ['laptop', 'Laptop'],
    ['phone', 'Phone'],
  ]) {
    const page = devices[label]
    const registered = await inPage(page, (n) => window.krv.register(n), name)
    assert.equal(registered.status, 200, JSON.stringify(registered))
    assert.equal(registered.json.name, name)
    assert.equal(registered.json.id, registered.body.credential.id)
    // A discoverable credential was asked for, with user verification.
    const selection = registered.options.publicKey.authenticatorSelection
    assert.equal(selection.residentKey, 'preferred')
    assert.equal(selection.userVerification, 'required')
    const { credentials } = await page.cdp.send('WebAuthn.getCredentials', { authenticatorId: page.authenticatorId })
    assert.equal(credentials.length, 1)
    assert.equal(credentials[0].isResidentCredential, true)
  }
  // The laptop's authenticator refuses a second passkey for alice (it is excluded).
  const again = await inPage(devices.laptop, () => window.krv.register('Laptop again').catch((e) => ({ error: e.name })))
  assert.equal(again.error, 'InvalidStateError', JSON.stringify(again))
})

suite.step('her passkeys are listed, renamed and one deleted', async () => {
  const laptop = devices.laptop
  let status = await api(laptop, 'GET', '/auth/mfa')
  assert.equal(status.status, 200, JSON.stringify(status))
  assert.deepEqual(status.json.passkeys.map((p) => p.name).sort(), ['Laptop', 'Phone'])
  const phoneKey = status.json.passkeys.find((p) => p.name === 'Phone')
  const laptopKey = status.json.passkeys.find((p) => p.name === 'Laptop')
  const renamed = await api(laptop, 'PATCH', `/auth/mfa/webauthn/${phoneKey.id}`, { name: 'Work phone' })
  assert.equal(renamed.status, 200, JSON.stringify(renamed))
  assert.equal(renamed.json.name, 'Work phone')
  const bad = await api(laptop, 'PATCH', `/auth/mfa/webauthn/${phoneKey.id}`, { name: '' })
  assert.equal(bad.status, 422)
  assert.equal(typeof bad.json.detail, 'string')
  const deleted = await api(laptop, 'DELETE', `/auth/mfa/webauthn/${laptopKey.id}`)
  assert.equal(deleted.status, 200, JSON.stringify(deleted))
  status = await api(laptop, 'GET', '/auth/mfa')
  assert.deepEqual(status.json.passkeys.map((p) => p.name), ['Work phone'])
})

suite.step('a discoverable passkey logs in without a password, and the session works', async () => {
  const phone = devices.phone
  assert.equal((await api(phone, 'POST', '/auth/logout')).status, 200)
  assert.equal((await api(phone, 'GET', '/auth/me')).status, 401)
  const login = await inPage(phone, () => window.krv.passwordless())
  assert.equal(login.status, 200, JSON.stringify(login))
  assert.equal(login.json.user.username, 'alice')
  assert.equal(login.options.publicKey.userVerification, 'required')
  assert.deepEqual(login.options.publicKey.allowCredentials ?? [], [], 'no credential is named: the authenticator discovers it')
  const me = await api(phone, 'GET', '/auth/me')
  assert.equal(me.status, 200)
  assert.equal(me.json.username, 'alice')
  assert.equal(me.json.auth_method, 'session')
  replay = login.body
  const status = await api(phone, 'GET', '/auth/mfa')
  assert.ok(status.json.passkeys[0].last_used_at, 'the use is recorded')
})

suite.step('a replayed finish (the same ceremony) is refused', async () => {
  const fresh = await device('replayer')
  const replayed = await api(fresh, 'POST', '/auth/login/passkey/finish', replay)
  assert.equal(replayed.status, 422, JSON.stringify(replayed))
  assert.equal(typeof replayed.json.detail, 'string')
  assert.equal((await api(fresh, 'GET', '/auth/me')).status, 401, 'no session came of it')
})

suite.step('the deleted passkey no longer logs in', async () => {
  const laptop = devices.laptop
  await api(laptop, 'POST', '/auth/logout')
  const login = await inPage(laptop, () => window.krv.passwordless())
  assert.equal(login.status, 401, JSON.stringify(login))
  assert.equal(login.json.code, 'invalid_credentials')
})

suite.step('with a passkey, a password alone is not enough: the passkey is the second step', async () => {
  const phone = devices.phone
  await api(phone, 'POST', '/auth/logout')
  const first = await passwordLogin(phone, 'alice')
  assert.equal(first.status, 401, JSON.stringify(first))
  assert.equal(first.json.code, 'mfa_required')
  assert.ok(first.json.methods.includes('webauthn'), JSON.stringify(first.json))
  const done = await inPage(phone, (t) => window.krv.secondFactor(t), first.json.mfa_token)
  assert.equal(done.status, 200, JSON.stringify(done))
  assert.equal(done.json.user.username, 'alice')
  assert.equal((await api(phone, 'GET', '/auth/me')).status, 200)
  // The laptop's (deleted) passkey is not allowed as the factor.
  assert.equal(done.options.publicKey.allowCredentials.length, 1)
})

suite.step('after the admin reset the passkey logs in neither way', async () => {
  const reset = await suite.call('DELETE', `/auth/users/${aliceId}/mfa`, undefined, adminCookie, [200])
  assert.ok(reset.json)
  const phone = devices.phone
  assert.equal((await api(phone, 'GET', '/auth/me')).status, 401, 'the reset ended her sessions')
  const login = await inPage(phone, () => window.krv.passwordless())
  assert.equal(login.status, 401, JSON.stringify(login))
  // The password alone logs in again (no factor left).
  assert.equal((await passwordLogin(phone, 'alice')).status, 200)
})

suite.step('every step was audited', async () => {
  const audit = await suite.call('GET', '/admin/audit?limit=200', undefined, adminCookie, [200])
  const events = audit.json
  const count = (action, outcome) => events.filter((e) => e.action === action && e.outcome === outcome).length
  assert.equal(count('mfa.passkey.register', 'success'), 2)
  assert.equal(count('mfa.passkey.rename', 'success'), 1)
  assert.equal(count('mfa.passkey.delete', 'success'), 1)
  const passkeyLogins = events.filter((e) => e.action === 'auth.login' && (e.detail ?? '').includes('passkey'))
  assert.ok(passkeyLogins.some((e) => e.outcome === 'success'), JSON.stringify(passkeyLogins))
  assert.ok(passkeyLogins.filter((e) => e.outcome === 'failure').length >= 2, JSON.stringify(passkeyLogins))
})

suite.step('no page logged an error but the refusals this suite asked for', () => {
  // The browser logs each 4xx answer to fetch as "Failed to load resource";
  // those are the refusals above. Anything else is a fault.
  const errors = pages.flatMap((p) => p.errors).filter((e) => !e.includes('Failed to load resource'))
  assert.deepEqual(errors, [])
})
