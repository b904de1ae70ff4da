// Group quotas and managers in the panel, against a real krv-server (fresh
// in-memory store) in headless Chromium: the admin sets a group's quota and
// makes a manager, a member sees the usage as bars, the manager decides the
// member's task from their own approval queue, and a task over the quota
// shows which limit it exceeds. The steps build on each other, in order.
import assert from 'node:assert/strict'
import { REGISTER_SECRET, assertLabelled, shoot, steps } from './harness.mjs'

const PW = 'Correct-Horse-Battery-9'
const GIB = 1024 ** 3
const pages = []
const suite = steps('groups-quota-', pages)
const { step, call, noConsoleErrors } = suite

let rootCookie
let groupId
let admin // root's page
let ben // a member
let mia // a user the admin makes the group's manager
let firstTask
let waitingTask

function nav(page) {
  return page.getByRole('navigation', { name: 'Main' })
}

/** The text beside the bar of one resource (`active_tasks`, `cores`, `gpus`, `memory`, `vps`). */
function usageText(page, resource) {
  return page.locator(`[data-testid="usage-bars"] li[data-resource="${resource}"] [data-testid="usage-text"]`)
}

step('setup: an admin, three users and a group with two members', async () => {
  rootCookie = (await call('POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET }, undefined, [201])).cookie
  for (const name of ['ben', 'mia', 'carl']) {
    await call('POST', '/auth/register', { username: name, password: PW, role: 'user' }, rootCookie, [201])
  }
  groupId = (await call('POST', '/auth/groups', { name: 'lab' }, rootCookie, [201])).json.id
  const users = (await call('GET', '/auth/users?limit=500', undefined, rootCookie, [200])).json
  const id = (name) => users.find((u) => u.username === name).id
  await call('PUT', `/auth/groups/${groupId}/members/${id('ben')}`, undefined, rootCookie, [200])
  await call('PUT', `/auth/groups/${groupId}/members/${id('carl')}`, undefined, rootCookie, [200])
})

step('the admin sets the quota in the editor and makes mia a manager', async () => {
  admin = await suite.login('root', PW)
  await nav(admin).getByRole('link', { name: 'Groups' }).click()
  await admin.getByTestId('groups-table').getByRole('row', { name: /lab/ }).getByRole('button', { name: 'Manage' }).click()
  const detail = admin.getByTestId('group-detail')
  // No quota yet: every resource is unlimited.
  await usageText(admin, 'cores').filter({ hasText: '0 used · unlimited' }).waitFor()
  assert.match(await detail.getByTestId('auto-approve').textContent(), /Auto-approval is off/)

  await admin.getByLabel('Max active tasks').fill('1')
  await admin.getByLabel('Max cores').fill('4')
  await admin.getByLabel('Max memory (GiB)').fill('8')
  await admin.getByRole('button', { name: 'Save quota' }).click()
  await admin.getByRole('status').filter({ hasText: 'Quota saved' }).waitFor()
  await usageText(admin, 'active_tasks').filter({ hasText: '0 / 1' }).waitFor()
  await usageText(admin, 'cores').filter({ hasText: '0 / 4' }).waitFor()
  await usageText(admin, 'memory').filter({ hasText: '0 B / 8 GiB' }).waitFor()
  await usageText(admin, 'gpus').filter({ hasText: 'unlimited' }).waitFor()
  // The service holds what the editor sent: the empty fields unlimited.
  const usage = (await call('GET', `/auth/groups/${groupId}/usage`, undefined, rootCookie, [200])).json
  assert.equal(usage.limits.max_active_tasks, 1)
  assert.equal(usage.limits.max_cores, 4)
  assert.equal(usage.limits.max_memory_bytes, 8 * GIB)
  assert.equal(usage.limits.max_gpus ?? null, null)
  assert.equal(usage.limits.max_vps ?? null, null)
  assert.notEqual(usage.limits.auto_approve, true)

  // mia is no member yet: "Add as manager" makes her both.
  await admin.getByLabel('Add a user').selectOption({ label: 'mia (user)' })
  await admin.getByRole('button', { name: 'Add as manager' }).click()
  const miaRow = detail.locator('li[data-member="mia"]')
  await miaRow.getByTestId('manager-tag').waitFor()
  assert.equal(await detail.locator('li[data-member="ben"]').getByTestId('manager-tag').count(), 0)
  // carl is made a manager from the list, then not any more.
  const carlRow = detail.locator('li[data-member="carl"]')
  await carlRow.getByRole('button', { name: 'Make manager' }).click()
  await carlRow.getByTestId('manager-tag').waitFor()
  await carlRow.getByRole('button', { name: 'Remove manager' }).click()
  await carlRow.getByRole('button', { name: 'Make manager' }).waitFor()
  assert.equal(await carlRow.getByTestId('manager-tag').count(), 0)
  const group = (await call('GET', `/auth/groups/${groupId}`, undefined, rootCookie, [200])).json
  assert.equal(group.manager_ids.length, 1)
  await assertLabelled(admin)
  await shoot(admin, 'group-quota-admin')
  noConsoleErrors()
})

step('a member sees the usage as bars, neither the members nor an approval queue', async () => {
  ben = await suite.login('ben', PW)
  assert.equal(await nav(ben).getByRole('link', { name: /^Approvals/ }).count(), 0)
  await nav(ben).getByRole('link', { name: 'Groups' }).click()
  const row = ben.getByTestId('my-groups-table').getByRole('row', { name: /lab/ })
  await row.getByRole('button', { name: 'Open' }).click()
  await usageText(ben, 'active_tasks').filter({ hasText: '0 / 1' }).waitFor()
  await usageText(ben, 'cores').filter({ hasText: '0 / 4' }).waitFor()
  await usageText(ben, 'vps').filter({ hasText: 'unlimited' }).waitFor()
  const meter = ben.getByRole('meter', { name: 'Cores' })
  assert.equal(await meter.getAttribute('aria-valuemax'), '4')
  assert.equal(await meter.getAttribute('aria-valuenow'), '0')
  // No editor and no member list for a plain member.
  assert.equal(await ben.getByRole('button', { name: 'Save quota' }).count(), 0)
  assert.equal(await ben.getByTestId('members').count(), 0)
  await assertLabelled(ben)
  await shoot(ben, 'group-usage-member')
  // The approvals page is not theirs.
  await ben.goto('/approvals')
  await ben.waitForURL('**/account')
  noConsoleErrors()
})

step("the manager sees the member's task in their own queue, with the badge, and approves it", async () => {
  const r = await ben.request.post('/api/tasks', { data: { name: 'fits', command: 'python fit.py', required_cores: 2, required_memory_bytes: 2 * GIB } })
  assert.equal(r.status(), 202, await r.text())
  const submitted = await r.json()
  assert.equal(submitted.status, 'pending_approval')
  firstTask = submitted.task_ids[0]

  mia = await suite.login('mia', PW)
  const link = nav(mia).getByRole('link', { name: /^Approvals/ })
  await link.getByTestId('approval-badge').filter({ hasText: /^1$/ }).waitFor({ timeout: 15_000 })
  await link.click()
  await mia.getByTestId('managing').filter({ hasText: 'lab' }).waitFor()
  const card = mia.locator(`article.task[data-task="${firstTask}"]`)
  await card.waitFor()
  const text = await card.textContent()
  for (const part of ['python fit.py', 'ben', '2 core(s)', 'lab']) assert.ok(text.includes(part), `the card shows ${part}: ${text}`)
  assert.equal(await card.getByTestId('quota-exceeded').count(), 0)
  await card.getByRole('button', { name: 'Approve' }).click()
  await mia.getByRole('status').filter({ hasText: 'approved' }).waitFor()
  await mia.getByTestId('no-approvals').waitFor()
  await nav(mia).getByTestId('approval-badge').filter({ hasText: /^0$/ }).waitFor()
  const task = (await ben.request.get(`/api/tasks/${firstTask}`).then((x) => x.json()))
  assert.equal(task.status, 'assigning')
  assert.equal(task.group_id, groupId)

  // The manager sees the group's members (with the tags) but no quota editor.
  await nav(mia).getByRole('link', { name: 'Groups' }).click()
  await mia.getByTestId('my-groups-table').getByRole('row', { name: /lab/ }).getByRole('button', { name: 'Open' }).click()
  await mia.locator('li[data-member="mia"]').getByTestId('manager-tag').waitFor()
  assert.equal(await mia.getByRole('button', { name: 'Save quota' }).count(), 0)
  // The member's usage now counts the approved task.
  await usageText(mia, 'active_tasks').filter({ hasText: '1 / 1' }).waitFor()
  await usageText(mia, 'cores').filter({ hasText: '2 / 4' }).waitFor()
  noConsoleErrors()
})

step('a task over the quota waits and shows which limit it exceeds; approving it is refused', async () => {
  const r = await ben.request.post('/api/tasks', { data: { name: 'second', command: 'python more.py', required_cores: 1 } })
  assert.equal(r.status(), 202, await r.text())
  const submitted = await r.json()
  assert.equal(submitted.status, 'pending_approval')
  waitingTask = submitted.task_ids[0]
  // More than the limit allows at all is refused outright.
  const over = await ben.request.post('/api/tasks', { data: { command: 'python huge.py', required_cores: 16 } })
  assert.equal(over.status(), 422, await over.text())

  await nav(mia).getByRole('link', { name: /^Approvals/ }).click()
  const card = mia.locator(`article.task[data-task="${waitingTask}"]`)
  await card.waitFor()
  const reason = card.getByTestId('quota-exceeded')
  await reason.filter({ hasText: 'max_active_tasks' }).waitFor()
  await nav(mia).getByTestId('approval-badge').filter({ hasText: /^1$/ }).waitFor()
  await shoot(mia, 'approvals-manager-over-quota')
  await card.getByRole('button', { name: 'Approve' }).click()
  await mia.getByRole('alert').filter({ hasText: 'exceed' }).waitFor()
  // The failed approval is the one 409 the browser logs; it is expected here.
  mia.errors = mia.errors.filter((e) => !(e.includes('409') && e.includes('/api/approve/')))
  assert.equal((await ben.request.get(`/api/tasks/${waitingTask}`).then((x) => x.json())).status, 'pending_approval')

  noConsoleErrors()
})

step('the manager rejects the waiting task; the admin sees the same usage', async () => {
  const card = mia.locator(`article.task[data-task="${waitingTask}"]`)
  await card.getByRole('button', { name: 'Reject' }).click()
  await mia.getByLabel('Reason (shown to the submitter)').fill('wait for the first one')
  await mia.getByRole('button', { name: 'Reject task' }).click()
  await mia.getByRole('status').filter({ hasText: 'rejected' }).waitFor()
  await mia.getByTestId('no-approvals').waitFor()
  await nav(mia).getByTestId('approval-badge').filter({ hasText: /^0$/ }).waitFor()
  const rejected = await ben.request.get(`/api/tasks/${waitingTask}`).then((x) => x.json())
  assert.equal(rejected.status, 'rejected')
  // A rejected task never counted: the usage is still the first task's.
  await admin.getByTestId('group-detail').getByRole('button', { name: 'Refresh' }).click()
  await usageText(admin, 'active_tasks').filter({ hasText: '1 / 1' }).waitFor()
  await usageText(admin, 'cores').filter({ hasText: '2 / 4' }).waitFor()
  noConsoleErrors()
})
