// Browser tests of the tasks, VPS and My VPS pages, paging and search on the
// users and audit lists, keyboard use of dialogs, and the dark theme, against
// a real krv-server of their own (fresh in-memory store). Steps build on each other.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { REGISTER_SECRET, SHOTS, assertLabelled, shoot, steps } from './harness.mjs'

const PW = 'Correct-Horse-Battery-9'
const PAGERS = 55 // extra users, so the users list needs a second page of 50
const BATCH = 55 // extra tasks, so the tasks list needs a second page of 50
let rootCookie
const cookies = {}
const ids = {} // user and group ids by name
const vps = {} // VPS task ids by name
const pages = []


const suite = steps('pages-', pages)
const { step, noConsoleErrors } = suite

const call = (method, path, body, cookie = rootCookie, expect = [200, 201, 202]) => suite.call(method, path, body, cookie, expect)
const login = (username) => suite.login(username, PW)

const rows = (page, testId) => page.getByTestId(testId).locator('tbody tr')

let viewer
let operator
let user
let admin

step('setup through the API: users, a group, tasks and VPS', async () => {
  await call('POST', '/auth/register', { username: 'root', password: PW, register_secret: REGISTER_SECRET }, undefined)
  rootCookie = (await call('POST', '/auth/login', { username: 'root', password: PW }, undefined)).cookie
  assert.ok(rootCookie)
  for (const [name, role] of [['opal', 'operator'], ['uma', 'user'], ['vic', 'viewer']]) {
    ids[name] = (await call('POST', '/auth/register', { username: name, password: PW, role })).json.id
    cookies[name] = (await call('POST', '/auth/login', { username: name, password: PW }, undefined)).cookie
  }
  for (let i = 1; i <= PAGERS; i++) {
    await call('POST', '/auth/register', { username: `pager${String(i).padStart(2, '0')}`, password: PW, role: 'viewer' })
  }
  ids['gpu-team'] = (await call('POST', '/auth/groups', { name: 'gpu-team' })).json.id
  // A user's tasks wait for approval; the admin's are approved at once.
  for (let i = 1; i <= 3; i++) await call('POST', '/tasks', { name: `uma-job-${i}`, command: 'python job.py' }, cookies.uma)
  vps['uma-vps'] = (await call('POST', '/tasks', { name: 'uma-vps', task_type: 'vps', command: 'ssh-ed25519 AAAA' }, cookies.uma)).json.task_ids[0]
  for (let i = 1; i <= BATCH; i++) await call('POST', '/tasks', { name: `batch-${String(i).padStart(2, '0')}`, command: 'sleep 1' })
  for (const name of ['vps-alpha', 'vps-beta']) {
    vps[name] = (await call('POST', '/tasks', { name, task_type: 'vps', command: 'ssh-ed25519 AAAA' })).json.task_ids[0]
  }
  assert.equal(Object.values(vps).filter(Boolean).length, 3)
})

step('a viewer reads the tasks list: pages of 50, filters by status, owner and type, search', async () => {
  viewer = await login('vic')
  await viewer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks', exact: true }).click()
  await viewer.waitForURL('**/tasks')
  const list = rows(viewer, 'tasks-table')
  await viewer.getByTestId('loaded-count').filter({ hasText: '50 tasks loaded' }).waitFor()
  assert.equal(await list.count(), 50)
  // Newest first: the VPS submitted last lead.
  assert.match(await list.first().textContent(), /vps-beta/)
  await viewer.getByRole('button', { name: 'Load more' }).click()
  const total = 3 + 1 + BATCH + 2
  await viewer.getByTestId('loaded-count').filter({ hasText: `${total} tasks loaded (all)` }).waitFor()
  assert.equal(await list.count(), total)
  assert.equal(await viewer.getByRole('button', { name: 'Load more' }).count(), 0)
  // Others' commands are hidden from a viewer.
  assert.match(await list.filter({ hasText: 'batch-01' }).textContent(), /hidden/)
  await assertLabelled(viewer)
  await shoot(viewer, 'tasks')

  await viewer.getByLabel('Status').selectOption('pending_approval')
  await viewer.getByRole('button', { name: 'Apply filters' }).click()
  await viewer.getByTestId('loaded-count').filter({ hasText: '4 tasks loaded (all)' }).waitFor()
  const names = (await list.locator('strong').allTextContents()).sort()
  assert.deepEqual(names, ['uma-job-1', 'uma-job-2', 'uma-job-3', 'uma-vps'])

  await viewer.getByLabel('Status').selectOption('')
  await viewer.getByLabel('Owner (username)').fill('uma')
  await viewer.getByLabel('Type').selectOption('vps')
  await viewer.getByRole('button', { name: 'Apply filters' }).click()
  await viewer.getByTestId('loaded-count').filter({ hasText: '1 tasks loaded (all)' }).waitFor()
  assert.deepEqual(await list.locator('strong').allTextContents(), ['uma-vps'])
  await shoot(viewer, 'tasks-filtered')

  // The search box filters the rows loaded.
  await viewer.getByLabel('Owner (username)').fill('')
  await viewer.getByLabel('Type').selectOption('command')
  await viewer.getByRole('button', { name: 'Apply filters' }).click()
  await viewer.getByTestId('loaded-count').filter({ hasText: '50 tasks loaded' }).waitFor()
  await viewer.getByLabel('Search loaded tasks').fill('batch-5')
  await viewer.waitForFunction(() => document.querySelectorAll('[data-testid=tasks-table] tbody tr').length === 6)
  assert.deepEqual((await list.locator('strong').allTextContents()).sort(), ['batch-50', 'batch-51', 'batch-52', 'batch-53', 'batch-54', 'batch-55'])
  await viewer.getByText('The search filters the 50 tasks loaded; load more to search further.').waitFor()
  noConsoleErrors()
})

step('a viewer sees VPS and their assignments without controls, and no My VPS page', async () => {
  await viewer.getByRole('link', { name: 'VPS', exact: true }).click()
  await viewer.waitForURL('**/vps')
  await rows(viewer, 'vps-table').first().waitFor()
  assert.equal(await rows(viewer, 'vps-table').count(), 3)
  assert.equal(await viewer.getByRole('button', { name: /Assign|Unassign/ }).count(), 0)
  await viewer.getByText('operators change them').waitFor()
  await viewer.goto('/vps/my')
  await viewer.waitForURL('**/account')
  noConsoleErrors()
})

step('an operator assigns users and groups to a VPS and removes them', async () => {
  operator = await login('opal')
  await operator.getByRole('link', { name: 'VPS', exact: true }).click()
  await operator.waitForURL('**/vps')
  const alpha = operator.locator(`tr[data-vps="${vps['vps-alpha']}"]`)
  const beta = operator.locator(`tr[data-vps="${vps['vps-beta']}"]`)
  await alpha.getByLabel(/Assign a user/).selectOption({ label: 'uma' })
  await alpha.getByRole('button', { name: 'Assign user' }).click()
  await operator.getByRole('status').filter({ hasText: `uma assigned to ${vps['vps-alpha']}` }).waitFor()
  await alpha.getByRole('button', { name: 'Unassign uma' }).waitFor()

  await alpha.getByLabel(/Assign a user/).selectOption({ label: 'vic' })
  await alpha.getByRole('button', { name: 'Assign user' }).click()
  await alpha.getByRole('button', { name: 'Unassign vic' }).waitFor()

  await beta.getByLabel(/Assign a group/).selectOption({ label: 'gpu-team' })
  await beta.getByRole('button', { name: 'Assign group' }).click()
  await operator.getByRole('status').filter({ hasText: `Group gpu-team assigned to ${vps['vps-beta']}` }).waitFor()
  await beta.getByRole('button', { name: 'Unassign group gpu-team' }).waitFor()
  await assertLabelled(operator)
  await shoot(operator, 'vps')

  await alpha.getByRole('button', { name: 'Unassign vic' }).click()
  await operator.getByRole('status').filter({ hasText: `vic unassigned from ${vps['vps-alpha']}` }).waitFor()
  await alpha.getByRole('button', { name: 'Unassign vic' }).waitFor({ state: 'detached' })
  await beta.getByRole('button', { name: 'Unassign group gpu-team' }).click()
  await operator.getByRole('status').filter({ hasText: `Group gpu-team unassigned from ${vps['vps-beta']}` }).waitFor()

  // The service agrees.
  const a = (await call('GET', `/vps/${vps['vps-alpha']}/assignments`)).json
  assert.deepEqual(a.assignments.map((x) => x.username), ['uma'])
  const b = (await call('GET', `/vps/${vps['vps-beta']}/assignments`)).json
  assert.deepEqual(b.group_assignments, [])
  // Put the group back for the user's page below (uma is not in it).
  await beta.getByLabel(/Assign a group/).selectOption({ label: 'gpu-team' })
  await beta.getByRole('button', { name: 'Assign group' }).click()
  await beta.getByRole('button', { name: 'Unassign group gpu-team' }).waitFor()
  noConsoleErrors()
})

step('a user sees the VPS they own or are assigned to at /vps/my', async () => {
  user = await login('uma')
  await user.getByRole('link', { name: 'My VPS', exact: true }).click()
  await user.waitForURL('**/vps/my')
  const nav = user.getByRole('navigation', { name: 'Main' })
  assert.equal(await nav.getByRole('link', { name: 'My VPS', exact: true }).getAttribute('aria-current'), 'page')
  assert.ok(!(await nav.getByRole('link', { name: 'VPS', exact: true }).getAttribute('class')).includes('router-link-active'))
  const list = rows(user, 'vps-table')
  await list.first().waitFor()
  const names = (await list.locator('strong').allTextContents()).sort()
  assert.deepEqual(names, ['uma-vps', 'vps-alpha'])
  await list.filter({ hasText: 'vps-alpha' }).getByText('uma').first().waitFor()
  assert.equal(await user.getByRole('button', { name: /Assign|Unassign/ }).count(), 0)
  await shoot(user, 'vps-my')
  noConsoleErrors()
})

step('users and audit lists page with Load more; search filters the loaded rows', async () => {
  admin = await login('root')
  await admin.getByRole('link', { name: 'Users', exact: true }).click()
  const list = rows(admin, 'users-table')
  await admin.getByTestId('loaded-count').filter({ hasText: '50 users loaded' }).waitFor()
  assert.equal(await list.count(), 50)
  await admin.getByRole('button', { name: 'Load more' }).click()
  const total = 4 + PAGERS
  await admin.getByTestId('loaded-count').filter({ hasText: `${total} users loaded (all)` }).waitFor()
  assert.equal(await list.count(), total)
  const names = await list.locator('strong').allTextContents()
  assert.equal(new Set(names).size, total, 'no user twice')
  await admin.getByLabel('Filter users').fill('pager05')
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid=users-table] tbody tr').length === 1)
  await admin.getByText(`The search filters the ${total} users loaded.`).waitFor()
  await assertLabelled(admin)
  await shoot(admin, 'users-paged')
  await admin.getByLabel('Filter users').fill('')

  await admin.getByRole('link', { name: 'Audit', exact: true }).click()
  await admin.getByTestId('loaded-count').filter({ hasText: '100 events loaded' }).waitFor()
  await admin.getByRole('button', { name: 'Load more' }).click()
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid=audit-table] tbody tr').length > 100)
  await admin.getByLabel('Search loaded events').fill('pager07')
  await admin.waitForFunction(() => {
    const r = [...document.querySelectorAll('[data-testid=audit-table] tbody tr')]
    return r.length >= 1 && r.every((tr) => tr.textContent.includes('pager07'))
  })
  await assertLabelled(admin)
  await shoot(admin, 'audit-paged')
  noConsoleErrors()
})

step('dialogs work by keyboard: focus moves in, Escape closes, focus returns', async () => {
  await admin.getByRole('link', { name: 'Users', exact: true }).click()
  const row = admin.locator('tr[data-user="pager55"]')
  await row.waitFor()
  const del = row.getByRole('button', { name: 'Delete' })
  await del.focus()
  await admin.keyboard.press('Enter')
  const dialog = admin.getByRole('dialog', { name: 'Delete pager55?' })
  await dialog.waitFor()
  // Focus is inside the dialog, on its first control (Cancel).
  assert.equal(await admin.evaluate(() => document.activeElement?.closest('dialog') !== null && document.activeElement?.textContent?.trim()), 'Cancel')
  await admin.keyboard.press('Tab')
  assert.equal(await admin.evaluate(() => document.activeElement?.textContent?.trim()), 'Delete user')
  await shoot(admin, 'dialog-delete')
  await admin.keyboard.press('Escape')
  await dialog.waitFor({ state: 'hidden' })
  assert.equal(await admin.evaluate(() => document.activeElement?.closest('tr')?.dataset.user + ':' + document.activeElement?.textContent?.trim()), 'pager55:Delete')
  assert.equal(await row.count(), 1, 'Escape deleted nothing')

  // A dialog with a field focuses the field.
  await row.getByRole('button', { name: 'Reset password' }).focus()
  await admin.keyboard.press('Enter')
  await admin.getByRole('dialog', { name: "Reset pager55's password" }).waitFor()
  assert.equal(await admin.evaluate(() => document.activeElement?.id), 'reset-pw')
  await admin.keyboard.press('Escape')
  await admin.getByRole('dialog').waitFor({ state: 'hidden' })
  assert.equal(await admin.evaluate(() => document.activeElement?.textContent?.trim()), 'Reset password')
  noConsoleErrors()
})

step('the dark theme follows the system', async () => {
  await admin.emulateMedia({ colorScheme: 'dark' })
  await admin.getByRole('link', { name: 'Tasks', exact: true }).click()
  await admin.getByTestId('tasks-table').waitFor()
  const colors = await admin.evaluate(() => {
    const s = getComputedStyle(document.documentElement)
    return { bg: s.backgroundColor, text: s.color, card: getComputedStyle(document.querySelector('.card')).backgroundColor }
  })
  assert.deepEqual(colors, { bg: 'rgb(17, 22, 29)', text: 'rgb(227, 232, 238)', card: 'rgb(26, 33, 43)' })
  await shoot(admin, 'tasks-dark')
  await admin.screenshot({ path: join(SHOTS, 'tasks-dark-top-1280.png') })
  await admin.emulateMedia({ colorScheme: 'light' })
  assert.equal(await admin.evaluate(() => getComputedStyle(document.documentElement).backgroundColor), 'rgb(244, 246, 248)')
  noConsoleErrors()
})
