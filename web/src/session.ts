// Who is logged in, and the approval badge. One reactive object the whole app reads.
import { reactive } from 'vue'
import { ApiError, atLeast, get, post, type GroupRef, type Me, type MfaMethod, type Schemas } from './api'
import { getPasskey } from './webauthn'

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

// A single sign-on leaves the panel for the provider and comes back with the
// session cookie set by the service, so the marker must be set before leaving.
// A login that fails (`/login?sso_error=`) or still needs the user's own
// factor (`/login?mfa_token=`) comes back with no session: the marker set for
// it is taken back then, or /me would be asked for a 401.
const SSO_PENDING = 'krv.sso'

/** Called as the browser leaves for a provider's login page. */
export function beginSso() {
  if (marked()) return
  mark(true)
  try {
    sessionStorage.setItem(SSO_PENDING, '1')
  } catch {
    // Storage disabled: the marker stays, at worst one 401 on return.
  }
}

/** Called before the first /me of a page load: settles a single sign-on begun by `beginSso`. */
export function settleSso(path: string, query: Record<string, unknown>) {
  let pending = false
  try {
    pending = sessionStorage.getItem(SSO_PENDING) !== null
    sessionStorage.removeItem(SSO_PENDING)
  } catch {
    return
  }
  if (pending && path === '/login' && (query.sso_error || query.mfa_token)) mark(false)
}

/** A right password for a user with a second factor: the login's second step is due. */
export interface MfaChallenge {
  /** Single use, five minutes; names the user, so the second step asks no username. */
  token: string
  methods: MfaMethod[]
}

/** Resolves to null when logged in, or to the second step a second factor asks for. */
export async function login(username: string, password: string): Promise<MfaChallenge | null> {
  try {
    await post('/auth/login', { username, password })
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && err.code === 'mfa_required' && err.body?.mfa_token) {
      return { token: err.body.mfa_token, methods: err.body.methods ?? [] }
    }
    throw err
  }
  await loggedIn()
  return null
}

/** The second step with a code of the authenticator app, or a recovery code. */
export async function loginWithCode(token: string, proof: { code: string } | { recovery_code: string }): Promise<void> {
  await post('/auth/login/mfa', { mfa_token: token, ...proof })
  await loggedIn()
}

type CeremonyStarted = Schemas['CeremonyStarted']

/** The second step with a passkey: the service allows only the user's own. */
export async function loginWithPasskeyStep(token: string): Promise<void> {
  const started = await post<CeremonyStarted>('/auth/login/webauthn/start', { mfa_token: token })
  const credential = await getPasskey(started.options)
  await post('/auth/login/webauthn/finish', { mfa_token: token, ceremony_id: started.ceremony_id, credential })
  await loggedIn()
}

/** Passwordless: the authenticator offers its passkeys for this service, and the chosen one names the user. */
export async function loginWithPasskey(): Promise<void> {
  const started = await post<CeremonyStarted>('/auth/login/passkey/start')
  const credential = await getPasskey(started.options)
  await post('/auth/login/passkey/finish', { ceremony_id: started.ceremony_id, credential })
  await loggedIn()
}

/**
 * Ends the session. For a session from a provider with RP-initiated logout
 * the server answers the provider's logout address, which the caller visits
 * so the user is signed out there too.
 */
export async function logout(): Promise<string | null> {
  try {
    const answer = await post<{ logout_url?: string | null }>('/auth/logout')
    return answer?.logout_url ?? null
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

/**
 * The caller's role needs a second factor they do not have
 * (`MFA_REQUIRED_ROLE`): until they enrol one, their session reaches only
 * the security page's endpoints.
 */
export function mustEnrol(): boolean {
  return session.user?.mfa_enrollment_required === true
}

/**
 * The groups the caller manages. The flag needs the `user` role: a viewer's
 * is dormant (the service lets them decide nothing), so it is not offered.
 */
export function managedGroups(): GroupRef[] {
  if (!can('user')) return []
  return (session.user?.groups ?? []).filter((g) => g.manager)
}

/** Whether the caller decides pending tasks: an operator, or a group's manager. */
export function approves(): boolean {
  return can('operator') || managedGroups().length > 0
}

/** Whether the groups page has something for the caller: every group (operators) or their own. */
export function seesGroups(): boolean {
  return can('operator') || (session.user?.groups?.length ?? 0) > 0
}

/**
 * The pending-approval count in the navigation: operators and admins ask the
 * count; a group's manager (the count is operators' only) counts their own
 * queue, which holds only their groups' members' tasks.
 */
export async function refreshBadge(): Promise<void> {
  // A session that must enrol first is refused the count (403): do not ask.
  if (!approves() || mustEnrol()) {
    session.pending = null
    return
  }
  try {
    if (can('operator')) {
      const { count } = await get<Schemas['Count']>('/tasks/pending-approval/count')
      session.pending = count
    } else {
      session.pending = (await get<unknown[]>('/tasks/pending-approval?limit=500')).length
    }
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
