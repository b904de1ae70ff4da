// Who is logged in, and the approval badge. One reactive object the whole app reads.
import { reactive } from 'vue'
import { ApiError, atLeast, get, post, type Me, type Schemas } from './api'

export const session = reactive({
  user: null as Me | null,
  loaded: false,
  pending: null as number | null,
})

// The session cookie is HttpOnly, so the page cannot see it. A marker in
// localStorage remembers that this browser logged in, so an anonymous visit
// does not ask /me just to get a 401 (which the browser logs as an error).
const MARKER = 'krv.session'
function marked(): boolean {
  try {
    return localStorage.getItem(MARKER) !== null
  } catch {
    return true
  }
}
function mark(on: boolean) {
  try {
    if (on) localStorage.setItem(MARKER, '1')
    else localStorage.removeItem(MARKER)
  } catch {
    // Storage disabled: every visit asks /me.
  }
}

export async function loadMe(): Promise<Me | null> {
  try {
    session.user = marked() ? await get<Me>('/auth/me') : null
    mark(session.user !== null)
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
    session.user = null
    mark(false)
  } finally {
    session.loaded = true
  }
  refreshBadge()
  return session.user
}

/** After a login or registration set the cookie. */
export async function loggedIn(): Promise<Me | null> {
  mark(true)
  return loadMe()
}

export async function login(username: string, password: string): Promise<void> {
  await post('/auth/login', { username, password })
  await loggedIn()
}

export async function logout(): Promise<void> {
  try {
    await post('/auth/logout')
  } finally {
    forget()
  }
}

export function forget() {
  mark(false)
  session.user = null
  session.pending = null
}

export function can(min: Parameters<typeof atLeast>[1]): boolean {
  return atLeast(session.user?.role, min)
}

/** The pending-approval count in the navigation; operators and admins only. */
export async function refreshBadge(): Promise<void> {
  if (!can('operator')) {
    session.pending = null
    return
  }
  try {
    const { count } = await get<Schemas['Count']>('/tasks/pending-approval/count')
    session.pending = count
  } catch {
    // A failed refresh keeps the last count; the next tick tries again.
  }
}

let timer: number | undefined
export function startBadgePolling(intervalMs = 10_000) {
  stopBadgePolling()
  timer = window.setInterval(refreshBadge, intervalMs)
}
export function stopBadgePolling() {
  if (timer !== undefined) window.clearInterval(timer)
  timer = undefined
}
