// Browser tests of the admin panel against a real krv-server (fresh in-memory
// store) in headless Chromium. The steps build on each other, in order.
import assert from 'node:assert/strict'
import { REGISTER_SECRET, apiCall, newPage, shoot, steps } from './harness.mjs'

const PW = 'Correct-Horse-Battery-9'
const PW2 = 'Another-Staple-Lamp-47'
let admin // the admin's page (logged in through the login page)
let alice // registered through the invitation link
let olga // an operator
const pages = []
let invitationUrl


const suite = steps('', pages)
const { step, noConsoleErrors } = suite

async function track(label) {
  const page = await newPage(suite.stack, label)
  pages.push(page)
  return page
}

/** Logs in through the login page with the keyboard only. */
async function loginByKeyboard(page, username, password) {
  await page.goto('/login')
  await page.getByRole('heading', { name: 'Log in to KohakuRiver' }).waitFor()
  // The username field has focus on arrival.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-username')
  await page.keyboard.type(username)
  await page.keyboard.press('Tab')
  await page.keyboard.type(password)
  await page.keyboard.press('Enter')
  await page.waitForURL('**/account')
  await page.getByTestId('profile-username').filter({ hasText: username }).waitFor()
}

function badge(page) {
  return page.getByTestId('approval-badge')
}

step('anonymous visitors are sent to the login page; bad credentials show the API detail', async () => {
  const page = await track('anon')
  await page.goto('/users')
  await page.waitForURL(/\/login\?next=(%2F|\/)users$/)
  await shoot(page, 'login')
  await page.getByLabel('Username').fill('nobody')
  await page.getByLabel('Password').fill('wrong-password-123')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('alert').filter({ hasText: 'Invalid username or password' }).waitFor()
  // The failed login is the one 401 the browser logs; it is expected here.
  page.errors = page.errors.filter((e) => !(e.includes('401') && e.includes('/api/auth/login')))
  await page.goto('/register?code=inv_example')
  assert.equal(await page.getByLabel('Invitation code').inputValue(), 'inv_example')
  await shoot(page, 'register')
  await page.close()
  noConsoleErrors()
})

step('the first admin registers through the API and logs in through the login page', async () => {
  const r = await apiCall(suite.stack, 'POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET })
  assert.equal(r.status, 201, JSON.stringify(r.json))
  assert.equal(r.json.user.role, 'admin')
  admin = await track('admin')
  await loginByKeyboard(admin, 'root', PW)
  assert.equal(await admin.getByTestId('profile-role').textContent(), 'admin')
  // Admins see every page, and the badge starts at 0.
  const nav = admin.getByRole('navigation', { name: 'Main' })
  for (const name of ['My account', 'Users', 'Invitations', 'Groups', 'Approvals', 'Audit']) {
    assert.equal(await nav.getByRole('link', { name: new RegExp(`^${name}`) }).count(), 1, name)
  }
  await badge(admin).filter({ hasText: /^0$/ }).waitFor()
  noConsoleErrors()
})

step('the admin creates an API token shown once', async () => {
  await admin.getByLabel('Token name').fill('laptop')
  await admin.getByRole('button', { name: 'Create token' }).click()
  const shown = admin.getByTestId('new-token')
  await shown.waitFor()
  const token = (await shown.locator('code').textContent()).trim()
  // 43 random base64url characters, then 6 base62 characters of checksum (docs/tokens.md).
  assert.match(token, /^krv_[0-9]+_[A-Za-z0-9_-]{43}[A-Za-z0-9]{6}$/)
  await admin.getByRole('cell', { name: 'laptop', exact: true }).waitFor()
  await shoot(admin, 'account')
  noConsoleErrors()
})

step('the admin creates a group and an invitation in the UI', async () => {
  await admin.getByRole('link', { name: 'Groups' }).click()
  await admin.getByLabel('Name', { exact: true }).fill('ml-team')
  await admin.getByLabel('Description (optional)').fill('GPU users')
  await admin.getByRole('button', { name: 'Create group' }).click()
  await admin.getByRole('status').filter({ hasText: 'Group ml-team created' }).waitFor()
  await admin.getByTestId('groups-table').getByRole('cell', { name: 'ml-team' }).waitFor()

  await admin.getByRole('link', { name: 'Invitations' }).click()
  await admin.getByLabel('Role').selectOption('user')
  await admin.getByLabel('ml-team').check()
  await admin.getByLabel('Uses').fill('2')
  await admin.getByRole('button', { name: 'Create invitation' }).click()
  const created = admin.getByTestId('new-invitation')
  await created.waitFor()
  const code = (await admin.getByTestId('invitation-code').textContent()).trim()
  invitationUrl = (await admin.getByTestId('invitation-url').textContent()).trim()
  assert.match(code, /^inv_/)
  assert.equal(invitationUrl, `${suite.stack.base}/register?token=${code}`)
  // Listed with its remaining uses, never with the code.
  const table = admin.getByTestId('invitations-table')
  await table.getByRole('cell', { name: '2 / 2' }).waitFor()
  assert.equal(await table.getByText(code).count(), 0)
  await shoot(admin, 'invitations')
  noConsoleErrors()
})

step('a new user registers through the invitation link with its role and group', async () => {
  alice = await track('alice')
  await alice.goto(invitationUrl)
  assert.equal(await alice.getByLabel('Invitation code').inputValue(), new URL(invitationUrl).searchParams.get('token'))
  await alice.getByLabel('Username').fill('alice')
  await alice.getByLabel('Password', { exact: true }).fill(PW)
  await alice.getByLabel('Repeat password').fill(PW)
  await alice.getByRole('button', { name: 'Create account' }).click()
  await alice.waitForURL('**/account')
  assert.equal(await alice.getByTestId('profile-role').textContent(), 'user')
  assert.equal(await alice.getByTestId('profile-groups').textContent(), 'ml-team')
  const me = await alice.request.get('/api/auth/me')
  assert.equal(me.status(), 200)
  const body = await me.json()
  assert.equal(body.role, 'user')
  assert.deepEqual(body.groups.map((g) => g.name), ['ml-team'])
  // A user sees no admin pages; as a member, the Groups page (their group's usage), but no approval queue.
  const nav = alice.getByRole('navigation', { name: 'Main' })
  assert.deepEqual((await nav.getByRole('link').allTextContents()).map((t) => t.trim()), ['My account', 'Security', 'Groups', 'Tasks', 'VPS', 'My VPS'])
  assert.equal(await badge(alice).count(), 0)
  await alice.goto('/users')
  await alice.waitForURL('**/account')
  noConsoleErrors()
})

step('a task waiting for approval shows in the badge; approving it clears it', async () => {
  await admin.getByRole('link', { name: 'My account' }).click()
  await badge(admin).filter({ hasText: /^0$/ }).waitFor()
  const r = await alice.request.post('/api/tasks', {
    data: {
      name: 'train',
      command: 'python train.py',
      arguments: ['--epochs', '3'],
      required_cores: 4,
      required_memory_bytes: 8 * 1024 ** 3,
      privileged: true,
      additional_mounts: ['/data:/data'],
    },
  })
  assert.equal(r.status(), 202, await r.text())
  assert.equal((await r.json()).status, 'pending_approval')
  // The badge's periodic refresh (every 10 s) picks it up without navigation.
  await badge(admin).filter({ hasText: /^1$/ }).waitFor({ timeout: 15_000 })

  await admin.getByRole('link', { name: /^Approvals/ }).click()
  const task = admin.locator('article.task')
  await task.waitFor()
  assert.equal(await task.count(), 1)
  const text = await task.textContent()
  for (const part of ['python train.py --epochs 3', 'alice', '4 core(s)', '8 GiB', '/data:/data', 'privileged']) {
    assert.ok(text.includes(part), `the task card shows ${part}: ${text}`)
  }
  await shoot(admin, 'approvals')
  await task.getByRole('button', { name: 'Approve' }).click()
  await admin.getByRole('status').filter({ hasText: 'approved' }).waitFor()
  await badge(admin).filter({ hasText: /^0$/ }).waitFor()
  await admin.getByTestId('no-approvals').waitFor()
  const count = await admin.request.get('/api/tasks/pending-approval/count')
  assert.deepEqual(await count.json(), { count: 0 })

  // A second one is rejected with a reason.
  const r2 = await alice.request.post('/api/tasks', { data: { command: 'rm -rf /' } })
  assert.equal(r2.status(), 202)
  await admin.getByRole('button', { name: 'Refresh' }).click()
  await badge(admin).filter({ hasText: /^1$/ }).waitFor({ timeout: 15_000 })
  await admin.locator('article.task').getByRole('button', { name: 'Reject' }).click()
  await admin.getByLabel('Reason (shown to the submitter)').fill('not on this cluster')
  await admin.getByRole('button', { name: 'Reject task' }).click()
  await admin.getByRole('status').filter({ hasText: 'rejected' }).waitFor()
  await badge(admin).filter({ hasText: /^0$/ }).waitFor()
  const id = (await r2.json()).task_ids[0]
  const rejected = await (await alice.request.get(`/api/tasks/${id}`)).json()
  assert.equal(rejected.status, 'rejected')
  assert.equal(rejected.rejection_reason, 'not on this cluster')
  noConsoleErrors()
})

step('the admin creates users, changes a role and deletes a user', async () => {
  await admin.getByRole('link', { name: 'Users' }).click()
  for (const [name, role] of [
    ['olga', 'user'],
    ['dave', 'viewer'],
  ]) {
    await admin.getByLabel('Username').fill(name)
    await admin.getByLabel('Password', { exact: true }).fill(PW)
    await admin.getByLabel('Role', { exact: true }).selectOption(role)
    await admin.getByRole('button', { name: 'Create user' }).click()
    await admin.getByRole('status').filter({ hasText: `User ${name} created` }).waitFor()
  }
  const table = admin.getByTestId('users-table')
  const olgaRow = table.locator('tr[data-user="olga"]')
  await olgaRow.getByLabel('Role of olga').selectOption('operator')
  await admin.getByRole('status').filter({ hasText: 'olga is now operator' }).waitFor()
  const olgaApi = (await (await admin.request.get('/api/auth/users?limit=500')).json()).find((u) => u.username === 'olga')
  assert.equal(olgaApi.role, 'operator')

  // Alice shows her group in the table; disabling and enabling her works.
  const aliceRow = table.locator('tr[data-user="alice"]')
  assert.ok((await aliceRow.textContent()).includes('ml-team'))
  await aliceRow.getByRole('button', { name: 'Disable' }).click()
  await admin.getByRole('status').filter({ hasText: 'alice disabled' }).waitFor()
  await aliceRow.getByText('disabled', { exact: true }).waitFor()
  await aliceRow.getByRole('button', { name: 'Enable' }).click()
  await admin.getByRole('status').filter({ hasText: 'alice enabled' }).waitFor()
  await aliceRow.getByText('active', { exact: true }).waitFor()

  // Unlock and a password reset (Olga logs in with the new one below).
  await olgaRow.getByRole('button', { name: 'Unlock' }).click()
  await admin.getByRole('status').filter({ hasText: "olga's login throttling cleared" }).waitFor()
  await olgaRow.getByRole('button', { name: 'Reset password' }).click()
  const reset = admin.getByRole('dialog', { name: "Reset olga's password" })
  await reset.getByLabel('New password').fill(PW2)
  await reset.getByRole('button', { name: 'Reset password' }).click()
  await admin.getByRole('status').filter({ hasText: "olga's password was reset" }).waitFor()

  await table.locator('tr[data-user="dave"]').getByRole('button', { name: 'Delete' }).click()
  const dialog = admin.getByRole('dialog', { name: 'Delete dave?' })
  await dialog.waitFor()
  // Cancelling keeps him.
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  assert.equal(await table.locator('tr[data-user="dave"]').count(), 1)
  await table.locator('tr[data-user="dave"]').getByRole('button', { name: 'Delete' }).click()
  await dialog.getByRole('button', { name: 'Delete user' }).click()
  await admin.getByRole('status').filter({ hasText: 'dave deleted' }).waitFor()
  await table.locator('tr[data-user="dave"]').waitFor({ state: 'detached' })
  const users = await (await admin.request.get('/api/auth/users?limit=500')).json()
  assert.deepEqual(users.map((u) => u.username).sort(), ['alice', 'olga', 'root'])
  await shoot(admin, 'users')
  noConsoleErrors()
})

step('an operator sees no admin-only controls', async () => {
  olga = await track('olga')
  await loginByKeyboard(olga, 'olga', PW2)
  const nav = olga.getByRole('navigation', { name: 'Main' })
  const links = (await nav.getByRole('link').allTextContents()).map((t) => t.replace(/\d+$/, '').trim())
  assert.deepEqual(links, ['My account', 'Security', 'Overview', 'Users', 'Invitations', 'Groups', 'Approvals', 'Tasks', 'VPS', 'My VPS'])
  await badge(olga).filter({ hasText: /^0$/ }).waitFor()

  await olga.getByRole('link', { name: 'Users' }).click()
  const table = olga.getByTestId('users-table')
  await table.locator('tr[data-user="alice"]').waitFor()
  assert.equal(await olga.getByRole('heading', { name: 'Create user' }).count(), 0)
  assert.equal(await table.getByRole('combobox').count(), 0, 'no role selects')
  assert.equal(await table.getByRole('button').count(), 0, 'no user actions')
  await shoot(olga, 'users-operator')

  await olga.getByRole('link', { name: 'Invitations' }).click()
  const role = olga.getByLabel('Role')
  assert.ok(await role.isDisabled())
  assert.deepEqual(await role.locator('option').allTextContents(), ['viewer'])
  assert.equal(await olga.getByRole('group', { name: 'Groups' }).count(), 0, 'no group choice')
  assert.equal(await olga.getByTestId('invitations-table').count(), 0, 'no invitation list')
  await olga.getByRole('button', { name: 'Create invitation' }).click()
  await olga.getByTestId('new-invitation').getByText('viewer').waitFor()
  await shoot(olga, 'invitations-operator')

  await olga.getByRole('link', { name: 'Groups' }).click()
  await olga.getByTestId('groups-table').getByRole('cell', { name: 'ml-team' }).waitFor()
  assert.equal(await olga.getByRole('heading', { name: 'Create group' }).count(), 0)
  assert.equal(await olga.getByRole('button', { name: 'Delete' }).count(), 0)
  await olga.getByRole('button', { name: 'Members' }).click()
  await olga.locator('.members').getByText('alice').waitFor()
  assert.equal(await olga.getByLabel('Add a user').count(), 0)
  assert.equal(await olga.getByRole('button', { name: 'Remove' }).count(), 0)

  await olga.goto('/audit')
  await olga.waitForURL('**/account')
  noConsoleErrors()
})

step('the admin manages group members and reads the audit log', async () => {
  await admin.getByRole('link', { name: 'Groups' }).click()
  await admin.getByRole('button', { name: 'Manage' }).click()
  await admin.getByLabel('Add a user').selectOption({ label: 'olga (operator)' })
  await admin.getByRole('button', { name: 'Add member' }).click()
  await admin.locator('.members').getByText('olga').waitFor()
  await shoot(admin, 'groups')

  // Alice's registration used one of the invitation's two uses.
  await admin.getByRole('link', { name: 'Invitations' }).click()
  await admin.getByTestId('invitations-table').getByRole('cell', { name: '1 / 2' }).waitFor()

  await admin.getByRole('link', { name: 'Audit' }).click()
  await admin.getByTestId('audit-table').waitFor()
  await admin.getByLabel('Action').fill('user.delete')
  await admin.getByRole('button', { name: 'Filter' }).click()
  const rows = admin.getByTestId('audit-table').locator('tbody tr')
  await rows.first().getByText('user.delete').waitFor()
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid=audit-table] tbody tr').length === 1)
  await admin.getByLabel('Action').fill('')
  await admin.getByLabel('Actor (username)').fill('alice')
  await admin.getByRole('button', { name: 'Filter' }).click()
  await rows.getByText('invitation.use').waitFor()
  await admin.getByLabel('Actor (username)').fill('')
  await admin.getByRole('button', { name: 'Filter' }).click()
  await rows.getByText('task.approve').waitFor()
  await shoot(admin, 'audit')
  noConsoleErrors()
})

step('the narrow layout has a working menu; logging out returns to the login page', async () => {
  await admin.setViewportSize({ width: 390, height: 844 })
  const nav = admin.getByRole('navigation', { name: 'Main' })
  assert.ok(!(await nav.isVisible()))
  await admin.getByRole('button', { name: 'Menu' }).click()
  await nav.getByRole('link', { name: /^Approvals/ }).click()
  await admin.waitForURL('**/approvals')
  await shoot(admin, 'approvals-empty')
  await admin.setViewportSize({ width: 1280, height: 800 })
  await admin.getByRole('button', { name: 'Log out' }).click()
  await admin.waitForURL('**/login')
  const me = await admin.request.get('/api/auth/me')
  assert.equal(me.status(), 401)
  noConsoleErrors()
})
