// Browser tests of the Overview page (counts, login charts, recent audit
// events) and of an admin's view of a user's sessions, against a real
// krv-server of their own (fresh in-memory store). Steps build on each other.
import assert from 'node:assert/strict'
import { REGISTER_SECRET, shoot, steps } from './harness.mjs'

const PW = 'Correct-Horse-Battery-9'
let rootCookie
let admin // the admin's page
const umaCookies = []
const pages = []


const suite = steps('overview-', pages)
const { step, noConsoleErrors } = suite

const call = (method, path, body, cookie = rootCookie, expect = [200, 201]) => suite.call(method, path, body, cookie, expect)
const login = (username) => suite.login(username, PW)

const rows = (page, testId) => page.getByTestId(testId).locator('tbody tr')

step('setup: an admin, three users, logins and a failed login', async () => {
  rootCookie = (await call('POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET }, undefined)).cookie
  for (const [name, role] of [['vic', 'viewer'], ['uma', 'user'], ['oli', 'operator']]) {
    await call('POST', '/auth/register', { username: name, password: PW, role })
  }
  // Two sessions of uma's (from Node: its user agent is `node`), one refused login.
  for (let i = 0; i < 2; i++) umaCookies.push((await call('POST', '/auth/login', { username: 'uma', password: PW }, undefined)).cookie)
  await call('POST', '/auth/login', { username: 'uma', password: 'not-her-password' }, undefined, [401])
})

step('the admin sees counts, login charts and recent audit events on the Overview', async () => {
  admin = await login('root') // the third login
  const nav = admin.getByRole('navigation', { name: 'Main' })
  await nav.getByRole('link', { name: 'Overview' }).click()
  await admin.waitForURL('**/overview')
  const counts = admin.getByTestId('overview-counts')
  await counts.waitFor()
  const stats = (await call('GET', '/admin/stats')).json
  const stat = async (name) => (await counts.locator(`[data-stat="${name}"]`).textContent()).trim()
  assert.equal(await stat('users'), '4')
  for (const role of ['viewer', 'user', 'operator', 'admin']) assert.equal(await stat(role), '1', role)
  assert.equal(await stat('sessions'), String(stats.active_sessions))
  assert.ok(stats.active_sessions >= 3)
  assert.equal(await stat('pending'), '0')

  // Three logins (uma twice, root once) and one refusal, in this hour and today.
  for (const chart of ['chart-hourly', 'chart-daily']) {
    const figure = admin.getByTestId(chart)
    assert.equal((await figure.getByTestId('chart-totals').textContent()).trim(), '3 logins, 1 failed', chart)
  }
  assert.equal(await admin.getByTestId('chart-hourly').locator('rect.ok').count(), 24)
  assert.equal(await admin.getByTestId('chart-daily').locator('rect.fail').count(), 30)
  assert.ok((await admin.getByTestId('chart-hourly').locator('rect.ok').last().getAttribute('height')) > 0, 'the current hour has a bar')

  // Recent audit events, newest first: root's login on top.
  const recent = rows(admin, 'recent-audit')
  await recent.first().waitFor()
  const top = await recent.first().textContent()
  assert.match(top, /root/)
  assert.match(top, /auth\.login/)
  assert.ok((await recent.filter({ hasText: 'failure' }).count()) >= 1, 'the refused login is listed')
  await shoot(admin, 'overview')
  noConsoleErrors()
})

step('an operator sees the Overview without the audit events', async () => {
  const oli = await login('oli')
  await oli.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click()
  await oli.getByTestId('overview-counts').waitFor()
  assert.equal((await oli.getByTestId('chart-hourly').getByTestId('chart-totals').textContent()).trim(), '4 logins, 1 failed')
  assert.equal(await oli.getByTestId('recent-audit').count(), 0)
  assert.equal(await oli.getByRole('heading', { name: 'Recent audit events' }).count(), 0)
  await shoot(oli, 'overview-operator')
  // No sessions of other users for operators: the page redirects to My account.
  await oli.goto('/users/2/sessions')
  await oli.waitForURL('**/account')
  await oli.close()
  noConsoleErrors()
})

step('the admin lists a user’s sessions with address and user agent and ends one', async () => {
  await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
  await admin.locator('tr[data-user="uma"]').getByRole('button', { name: 'Sessions' }).click()
  await admin.waitForURL(/\/users\/\d+\/sessions$/)
  await admin.getByRole('heading', { name: 'Sessions of uma' }).waitFor()
  const list = rows(admin, 'user-sessions')
  await list.nth(1).waitFor()
  assert.equal(await list.count(), 2)
  for (let i = 0; i < 2; i++) {
    assert.equal((await list.nth(i).locator('td[data-label="Address"]').textContent()).trim(), '127.0.0.1')
    assert.equal((await list.nth(i).locator('td[data-label="User agent"]').textContent()).trim(), 'node')
  }
  await shoot(admin, 'user-sessions')

  // End the oldest: uma's first cookie stops working, the second does not.
  await list.first().getByRole('button', { name: 'End session' }).click()
  await admin.getByRole('status').filter({ hasText: 'Session from 127.0.0.1 ended' }).waitFor()
  await admin.getByRole('heading', { name: 'Live sessions (1)' }).waitFor()
  assert.equal(await list.count(), 1)
  await call('GET', '/auth/me', undefined, umaCookies[0], [401])
  await call('GET', '/auth/me', undefined, umaCookies[1], [200])
  noConsoleErrors()
})

step('the admin ends all of a user’s sessions after confirming', async () => {
  await admin.getByRole('button', { name: 'End all sessions' }).click()
  const dialog = admin.getByRole('dialog')
  await dialog.getByRole('heading', { name: 'End all sessions of uma?' }).waitFor()
  await dialog.getByRole('button', { name: 'End all sessions' }).click()
  await admin.getByRole('status').filter({ hasText: '1 session(s) of uma ended' }).waitFor()
  await rows(admin, 'user-sessions').filter({ hasText: 'No live sessions.' }).waitFor()
  await call('GET', '/auth/me', undefined, umaCookies[1], [401])
  // Both ends are in the audit log.
  const events = (await call('GET', '/admin/audit?limit=20')).json
  assert.ok(events.some((e) => e.action === 'session.revoke' && e.target?.endsWith(' uma')))
  assert.ok(events.some((e) => e.action === 'session.revoke_all' && e.target?.endsWith(' uma')))
  await shoot(admin, 'user-sessions-empty')
  noConsoleErrors()
})
