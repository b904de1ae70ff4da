// Browser tests of API tokens in the panel (issue #23): the token form's
// scopes, resources and expiry, rotation, the admins' list of every token
// (filters, paging, revoke, the lifetime cap) and service accounts, against a
// real krv-server. The store is a file, so the server can restart with a
// lifetime cap over the tokens made without one. Steps build on each other.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { REGISTER_SECRET, apiCall, assertLabelled, restartServer, shoot, steps } from './harness.mjs'

const PW = 'Correct-Horse-Battery-9'
const BULK = 100 // tokens of one service account, so the list of every token needs a second page of 100
const pages = []
const dir = mkdtempSync(join(tmpdir(), 'krv-web-tokens-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const suite = steps('tokens-', pages, { env: () => ({ DYNAMODB_DATA_PATH: join(dir, 'store.sqlite') }) })
const { step } = suite

let rootCookie
let admin // root's page
const ids = {} // user, service account and group ids by name
const secrets = {} // token secrets by name

const call = (method, path, body, cookie = rootCookie, expect = [200, 201, 202]) => suite.call(method, path, body, cookie, expect)
/** An API call with a token, as a script would make it. */
const withToken = async (token, method, path, body) => {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const r = await fetch(`${suite.stack.base}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  return { status: r.status, json: text ? JSON.parse(text) : null }
}

/** The refusals these steps ask for, which the browser logs as "Failed to load resource". */
const EXPECTED = /Failed to load resource: the server responded with a status of 422 .*@ \S+\/api\/auth\/tokens$/
function noConsoleErrors() {
  assert.deepEqual(
    pages.flatMap((p) => p.errors).filter((e) => !EXPECTED.test(e)),
    [],
    'the browser logged errors',
  )
}

const nav = (page) => page.getByRole('navigation', { name: 'Main' })
const scope = (page, name) => page.getByRole('checkbox', { name, exact: true })
const tokenRow = (page, name) => page.getByTestId('tokens-table').locator(`tr[data-token="${name}"]`)
const accountRow = (page, name) => page.locator('section[aria-labelledby="tok-h"] tbody tr').filter({ has: page.getByRole('cell', { name, exact: true }) })

async function secretOf(page, testId) {
  const shown = page.getByTestId(testId)
  await shown.waitFor()
  const token = (await shown.locator('code').textContent()).trim()
  assert.match(token, /^krv_[0-9]+_[A-Za-z0-9_-]{43}[A-Za-z0-9]{6}$/)
  return token
}

/** Days from now to `iso`, rounded. */
const daysUntil = (iso) => Math.round((Date.parse(iso) - Date.now()) / 86_400_000)

step('setup: the first admin and a viewer; the admin logs in', async () => {
  await call('POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET }, undefined)
  rootCookie = (await call('POST', '/auth/login', { username: 'root', password: PW }, undefined)).cookie
  assert.ok(rootCookie)
  ids.vera = (await call('POST', '/auth/register', { username: 'vera', password: PW, role: 'viewer' })).json.id
  ids['ci-team'] = (await call('POST', '/auth/groups', { name: 'ci-team' })).json.id
  admin = await suite.login('root', PW)
  for (const name of ['API tokens', 'Service accounts']) assert.equal(await nav(admin).getByRole('link', { name, exact: true }).count(), 1, name)
})

step('a viewer is offered only the scopes its role can be granted, and no admin pages', async () => {
  const vera = await suite.login('vera', PW)
  assert.equal(await nav(vera).getByRole('link', { name: 'API tokens' }).count(), 0)
  for (const s of ['inherit', 'read', 'tokens:manage']) assert.equal(await scope(vera, s).isEnabled(), true, s)
  for (const s of ['tasks:submit', 'vps:connect', 'tasks:approve', 'vps:manage', 'users:admin']) assert.equal(await scope(vera, s).isDisabled(), true, s)
  await vera.getByText('needs the admin role').waitFor()
  for (const path of ['/tokens', '/service-accounts']) {
    await vera.goto(path)
    await vera.waitForURL('**/account')
  }
  await vera.close()
  noConsoleErrors()
})

step('inherit is the default and stands alone', async () => {
  assert.equal(await scope(admin, 'inherit').isChecked(), true)
  await scope(admin, 'read').check()
  assert.equal(await scope(admin, 'inherit').isChecked(), false)
  await scope(admin, 'tasks:submit').check()
  await scope(admin, 'inherit').check()
  for (const s of ['read', 'tasks:submit']) assert.equal(await scope(admin, s).isChecked(), false, s)
  // Unticking the only scope leaves the default.
  await scope(admin, 'inherit').click()
  assert.equal(await scope(admin, 'inherit').isChecked(), true)
  await assertLabelled(admin)
})

step('the account page creates a scoped, resource-limited token with an expiry, shown once', async () => {
  await admin.getByLabel('Token name').fill('ci-read')
  await admin.getByLabel('Expires in days (optional)').fill('7')
  await admin.getByLabel('Limit to resources (optional)').fill('vps:12, task:345')
  await scope(admin, 'read').check()
  await scope(admin, 'tasks:submit').check()
  await admin.getByRole('button', { name: 'Create token' }).click()
  secrets['ci-read'] = await secretOf(admin, 'new-token')
  await admin.getByTestId('new-token').filter({ hasText: 'with read, tasks:submit on vps:12, task:345' }).waitFor()
  // The form is emptied and back to the default.
  assert.equal(await admin.getByLabel('Token name').inputValue(), '')
  assert.equal(await scope(admin, 'inherit').isChecked(), true)

  const row = accountRow(admin, 'ci-read')
  await row.waitFor()
  assert.deepEqual(await row.locator('td[data-label="Scopes"] code').allTextContents(), ['read', 'tasks:submit'])
  assert.deepEqual(await row.locator('td[data-label="Resources"] code').allTextContents(), ['vps:12', 'task:345'])
  assert.notEqual((await row.locator('td[data-label="Expires"]').textContent()).trim(), 'never')

  // The service stored what the form asked for.
  const listed = (await call('GET', '/auth/tokens')).json.find((t) => t.name === 'ci-read')
  assert.deepEqual(listed.scopes, ['read', 'tasks:submit'])
  assert.deepEqual(listed.resources, ['vps:12', 'task:345'])
  assert.equal(daysUntil(listed.expires_at), 7)
  // And the token holds only those scopes: it reads, but may not mint tokens.
  assert.equal((await withToken(secrets['ci-read'], 'GET', '/auth/me')).status, 200)
  const refused = await withToken(secrets['ci-read'], 'POST', '/auth/tokens', { name: 'escalate' })
  assert.equal(refused.status, 403, JSON.stringify(refused.json))
  assert.equal(refused.json.code, 'insufficient_scope')

  // The default: no scopes, no resources, no expiry sent; listed as inherit, any, never.
  await admin.getByLabel('Token name').fill('forever')
  await admin.getByRole('button', { name: 'Create token' }).click()
  secrets.forever = await secretOf(admin, 'new-token')
  await admin.getByTestId('new-token').filter({ hasText: 'with inherit' }).filter({ hasText: 'never expires' }).waitFor()
  const forever = accountRow(admin, 'forever')
  await forever.waitFor()
  assert.deepEqual(await forever.locator('td[data-label="Scopes"] code').allTextContents(), ['inherit'])
  assert.equal((await forever.locator('td[data-label="Resources"]').textContent()).trim(), 'any')
  assert.equal((await forever.locator('td[data-label="Expires"]').textContent()).trim(), 'never')
  await shoot(admin, 'tokens-account')
  noConsoleErrors()
})

step('a resource that is not vps:<id> or task:<id> shows the API detail', async () => {
  await admin.getByLabel('Token name').fill('bad')
  await admin.getByLabel('Limit to resources (optional)').fill('host:1')
  await admin.getByRole('button', { name: 'Create token' }).click()
  await admin.getByRole('alert').filter({ hasText: 'is not vps:<id> or task:<id>' }).waitFor()
  assert.equal(await accountRow(admin, 'bad').count(), 0)
  await admin.getByLabel('Token name').fill('')
  await admin.getByLabel('Limit to resources (optional)').fill('')
  noConsoleErrors()
})

step('rotating shows the new secret once and until when the old one works; both work meanwhile', async () => {
  await accountRow(admin, 'ci-read').getByRole('button', { name: 'Rotate ci-read' }).click()
  const dialog = admin.getByRole('dialog')
  await dialog.getByText('The old secret stops working after a short overlap').waitFor()
  await dialog.getByRole('button', { name: 'Rotate' }).click()
  const fresh = await secretOf(admin, 'rotated-token')
  assert.notEqual(fresh, secrets['ci-read'])
  await admin.getByTestId('rotated-token').filter({ hasText: 'Token “ci-read” rotated' }).waitFor()
  // The default overlap is 600 s: the old secret's end is shown, some minutes ahead.
  const until = (await admin.getByTestId('previous-valid-until').textContent()).trim()
  assert.notEqual(until, '—')
  assert.equal(await admin.getByRole('dialog').count(), 0)
  for (const secret of [secrets['ci-read'], fresh]) {
    const me = await withToken(secret, 'GET', '/auth/me')
    assert.equal(me.status, 200, JSON.stringify(me.json))
    assert.equal(me.json.username, 'root')
  }
  // Same token: same id, scopes and resources; still one row.
  const listed = (await call('GET', '/auth/tokens')).json.filter((t) => t.name === 'ci-read')
  assert.equal(listed.length, 1)
  assert.deepEqual(listed[0].scopes, ['read', 'tasks:submit'])
  assert.equal(await accountRow(admin, 'ci-read').count(), 1)
  secrets['ci-read'] = fresh
  noConsoleErrors()
})

step('the admin creates a service account in a group and mints a read-only token for it, limited to one task', async () => {
  await nav(admin).getByRole('link', { name: 'Service accounts' }).click()
  await admin.waitForURL('**/service-accounts')
  await admin.getByTestId('no-service-accounts').waitFor()
  await admin.getByLabel('Name', { exact: true }).fill('ci-bot')
  await admin.getByLabel('Display name (optional)').fill('CI runner')
  await admin.getByLabel('Role').selectOption('user')
  await admin.getByLabel('Owning group (optional)').selectOption({ label: 'ci-team' })
  await admin.getByRole('button', { name: 'Create service account' }).click()
  await admin.getByRole('status').filter({ hasText: 'Service account ci-bot created' }).waitFor()
  const row = admin.getByTestId('service-accounts-table').locator('tbody tr').filter({ hasText: 'ci-bot' })
  for (const [label, text] of [['Display name', 'CI runner'], ['Role', 'user'], ['Group', 'ci-team'], ['Created by', 'root']]) {
    assert.equal((await row.locator(`td[data-label="${label}"]`).textContent()).trim(), text, label)
  }
  const listed = (await call('GET', '/auth/service-accounts')).json
  assert.equal(listed.length, 1)
  assert.equal(listed[0].kind, 'service')
  assert.equal(listed[0].group_id, ids['ci-team'])
  ids['ci-bot'] = listed[0].id

  await row.getByRole('button', { name: 'New token for ci-bot' }).click()
  const mint = admin.getByTestId('mint-token')
  await mint.getByRole('heading', { name: 'New token for ci-bot' }).waitFor()
  // A user-role account is not offered operator or admin scopes.
  for (const s of ['tasks:approve', 'vps:manage', 'users:admin']) assert.equal(await scope(mint, s).isDisabled(), true, s)
  await mint.getByLabel('Token name').fill('deploy')
  await scope(mint, 'read').check()
  await mint.getByLabel('Limit to resources (optional)').fill('task:345')
  await mint.getByRole('button', { name: 'Create token' }).click()
  secrets.deploy = await secretOf(mint, 'new-token')
  await mint.getByTestId('new-token').filter({ hasText: 'with read on task:345' }).waitFor()
  const me = await withToken(secrets.deploy, 'GET', '/auth/me')
  assert.equal(me.status, 200, JSON.stringify(me.json))
  assert.equal(me.json.username, 'ci-bot')
  await assertLabelled(admin)
  await shoot(admin, 'tokens-service-accounts')
  noConsoleErrors()
})

step('the API tokens page lists every token, marks service owners and filters by owner, scope and expiry', async () => {
  // From the service account's row: its tokens only.
  await admin.getByTestId('service-accounts-table').getByRole('link', { name: 'Tokens of ci-bot' }).click()
  await admin.waitForURL(/\/tokens\?owner=\d+$/)
  await tokenRow(admin, 'deploy').waitFor()
  assert.equal(await admin.getByTestId('tokens-table').locator('tbody tr').count(), 1)
  assert.equal(await admin.getByLabel('Owner').inputValue(), String(ids['ci-bot']))
  const deploy = tokenRow(admin, 'deploy')
  assert.equal((await deploy.locator('td[data-label="Owner"]').textContent()).replace(/\s+/g, ' ').trim(), 'ci-botservice')
  assert.deepEqual(await deploy.locator('td[data-label="Resources"] code').allTextContents(), ['task:345'])
  await admin.getByTestId('lifetime-cap').filter({ hasText: 'No lifetime cap is set' }).waitFor()

  const names = async () => (await admin.getByTestId('tokens-table').locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.token))).sort()
  // Each filter starts again at the first page; the row counts below wait for its answer.
  const apply = () => admin.getByRole('button', { name: 'Filter' }).click()
  await admin.getByLabel('Owner').selectOption('')
  await apply()
  await tokenRow(admin, 'forever').waitFor()
  assert.deepEqual(await names(), ['ci-read', 'deploy', 'forever'])

  // `inherit` holds every scope: the default token is listed too, the service's read-only one is not.
  await admin.getByLabel('Holds scope').selectOption('tasks:submit')
  await apply()
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid="tokens-table"] tbody tr').length === 2)
  assert.deepEqual(await names(), ['ci-read', 'forever'])

  await admin.getByLabel('Holds scope').selectOption('')
  await admin.getByLabel('Expiring within days').fill('10')
  await apply()
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid="tokens-table"] tbody tr').length === 1)
  assert.deepEqual(await names(), ['ci-read'])

  await admin.getByLabel('Expiring within days').fill('')
  await admin.getByLabel('Owner').selectOption({ label: 'root' })
  await apply()
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid="tokens-table"] tbody tr').length === 2)
  assert.deepEqual(await names(), ['ci-read', 'forever'])
  await assertLabelled(admin)
  await shoot(admin, 'tokens-admin')
  noConsoleErrors()
})

step('the list pages by next_cursor: 100 at a time, then Load more', async () => {
  const bulk = (await call('POST', '/auth/service-accounts', { name: 'bulk-bot', role: 'viewer' })).json
  ids['bulk-bot'] = bulk.id
  for (let i = 1; i <= BULK; i++) {
    const t = await call('POST', `/auth/service-accounts/${bulk.id}/tokens`, { name: `bulk-${String(i).padStart(3, '0')}`, scopes: ['read'] })
    if (i === 1) secrets.bulk = t.json.token
  }
  await admin.getByLabel('Owner').selectOption('')
  await admin.getByRole('button', { name: 'Filter' }).click()
  await admin.getByTestId('loaded-count').filter({ hasText: /^100 tokens loaded$/ }).waitFor()
  await admin.getByRole('button', { name: 'Load more' }).click()
  await admin.getByTestId('loaded-count').filter({ hasText: `${BULK + 3} tokens loaded (all)` }).waitFor()
  const all = await admin.getByTestId('tokens-table').locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.token))
  assert.equal(new Set(all).size, BULK + 3, 'no token listed twice')
  noConsoleErrors()
})

step('an admin revokes any token from the list; it stops working at once', async () => {
  await tokenRow(admin, 'deploy').getByRole('button', { name: 'Revoke deploy of ci-bot' }).click()
  await admin.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click()
  await admin.getByRole('status').filter({ hasText: 'Token “deploy” of ci-bot revoked' }).waitFor()
  // The reload keeps the rows shown, less the revoked one.
  await admin.getByTestId('loaded-count').filter({ hasText: `${BULK + 2} tokens loaded (all)` }).waitFor()
  assert.equal(await tokenRow(admin, 'deploy').count(), 0)
  assert.equal((await withToken(secrets.deploy, 'GET', '/auth/me')).status, 401)
  noConsoleErrors()
})

step('deleting a service account revokes its tokens', async () => {
  await nav(admin).getByRole('link', { name: 'Service accounts' }).click()
  await admin.getByTestId('service-accounts-table').getByRole('button', { name: 'Delete bulk-bot' }).click()
  await admin.getByRole('dialog').getByText('every token it holds is revoked').waitFor()
  await admin.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
  await admin.getByRole('status').filter({ hasText: `Service account bulk-bot deleted; ${BULK} token(s) revoked` }).waitFor()
  assert.equal(await admin.getByTestId('service-accounts-table').locator('tbody tr').count(), 1)
  assert.equal((await withToken(secrets.bulk, 'GET', '/auth/me')).status, 401)
  await nav(admin).getByRole('link', { name: 'API tokens' }).click()
  await admin.getByTestId('loaded-count').filter({ hasText: '2 tokens loaded (all)' }).waitFor()
  noConsoleErrors()
})

step('with a lifetime cap: tokens that outlive it are marked and filtered; a longer expiry is refused', async () => {
  await restartServer(suite.stack, { TOKEN_MAX_LIFETIME_DAYS: '30' })
  // The session and the tokens outlive the restart (the store is a file).
  const r = await apiCall(suite.stack, 'GET', '/auth/me', undefined, rootCookie)
  assert.equal(r.status, 200, JSON.stringify(r.json))
  await admin.reload()
  await admin.getByTestId('lifetime-cap').filter({ hasText: 'New tokens live at most 30 days' }).waitFor()
  await tokenRow(admin, 'forever').getByTestId('past-cap').waitFor()
  assert.equal(await tokenRow(admin, 'ci-read').getByTestId('past-cap').count(), 0)
  await admin.getByLabel('Past the cap only').check()
  await admin.getByRole('button', { name: 'Filter' }).click()
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid="tokens-table"] tbody tr').length === 1)
  await tokenRow(admin, 'forever').waitFor()
  await shoot(admin, 'tokens-admin-cap')

  await nav(admin).getByRole('link', { name: 'My account' }).click()
  await admin.getByLabel('Token name').fill('too-long')
  await admin.getByLabel('Expires in days (optional)').fill('90')
  await admin.getByRole('button', { name: 'Create token' }).click()
  await admin.getByRole('alert').filter({ hasText: 'TOKEN_MAX_LIFETIME_DAYS' }).filter({ hasText: '30' }).waitFor()
  // Without a number of days it lives the longest allowed.
  await admin.getByLabel('Expires in days (optional)').fill('')
  await admin.getByLabel('Token name').fill('capped')
  await admin.getByRole('button', { name: 'Create token' }).click()
  await secretOf(admin, 'new-token')
  await admin.getByTestId('new-token').filter({ hasText: 'expires' }).waitFor()
  const capped = (await call('GET', '/auth/tokens')).json.find((t) => t.name === 'capped')
  assert.equal(daysUntil(capped.expires_at), 30)
  noConsoleErrors()
})
