// The only way the panel talks to the service: same-origin fetches under /api,
// authenticated by the HttpOnly session cookie the browser sends by itself.

import type { components } from './api-schema'

/** The API's schemas, generated from docs/openapi.json (`npm run types`). */
export type Schemas = components['schemas']
/** A role a user can hold (the API's `Role` without `anony`). */
export type Role = Exclude<Schemas['Role'], 'anony'>
export const ROLES: Role[] = ['viewer', 'user', 'operator', 'admin']
const RANK: Record<string, number> = { anony: 0, viewer: 1, user: 2, operator: 3, admin: 4 }

export function atLeast(role: string | undefined, min: Role): boolean {
  return (RANK[role ?? ''] ?? 0) >= RANK[min]
}

export type GroupRef = Schemas['GroupRef']
/** The caller (`GET /api/auth/me`). */
export type Me = Schemas['Me']
/** A row of `GET /api/auth/users`. */
export type User = Schemas['UserEntry']
export type Session = Schemas['SessionView']
export type ApiToken = Schemas['TokenView']
/** A token as its creation answers it: the secret, shown only then. */
export type CreatedToken = Schemas['CreatedToken']
/** A rotated token: its new secret, and until when the old one still works. */
export type RotatedToken = Schemas['RotatedToken']
/** A row of the admins' list of every token (`GET /api/auth/tokens/all`). */
export type AdminToken = Schemas['AdminTokenView']
export type AdminTokenPage = Schemas['AllTokens']
/** A non-human account that holds only tokens admins mint for it. */
export type ServiceAccount = Schemas['ServiceAccountView']
export type Group = Schemas['Group']
export type Member = Schemas['Member']
export type Invitation = Schemas['InvitationView']
export type CreatedInvitation = Schemas['CreatedInvitation']
export type Task = Schemas['TaskView']
export type TaskStatus = Schemas['TaskStatus']
export type Vps = Schemas['VpsEntry']
export type AuditEvent = Schemas['AuditEvent']
export type MfaStatus = Schemas['MfaStatus']
export type Passkey = Schemas['PasskeyView']
/** A way to pass the second step of a login (`totp`, `webauthn`, `recovery`). */
export type MfaMethod = Schemas['Method']
/** A provider of single sign-on, as the login page lists it. */
export type Provider = Schemas['ProviderView']
/** A provider's whole configuration as admins see it (secret masked). */
export type ProviderSettings = Schemas['ProviderSettingsView']
/** An external identity linked to the caller. */
export type Identity = Schemas['Link']

/** The API's error body, read defensively (a proxy may answer something else). */
export type ErrorBody = Partial<Schemas['ErrorBody']>

/**
 * An answer other than 2xx, carrying the service's `detail` and `code`, and
 * the whole body (a login's `mfa_required` brings its `mfa_token` and `methods`).
 */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public code?: string,
    public body?: ErrorBody,
  ) {
    super(message)
  }
}

function describe(status: number, body: ErrorBody | null): string {
  if (body && typeof body.detail === 'string' && body.detail) {
    const fields = (body.errors ?? []).map((e) => `${e.field}: ${e.message}`)
    return fields.length ? `${body.detail} (${fields.join('; ')})` : body.detail
  }
  if (status === 0) return 'The service cannot be reached'
  return `Request failed (HTTP ${status})`
}

/** Called on a 401 from any request but login: the session is gone. */
let onUnauthorized: (() => void) | null = null
export function setUnauthorizedHandler(handler: () => void) {
  onUnauthorized = handler
}

/**
 * Called on a 403 `mfa_enrollment_required`: the caller's role needs a second
 * factor they do not have (`MFA_REQUIRED_ROLE`), e.g. after removing their last one.
 */
let onEnrollmentRequired: (() => void) | null = null
export function setEnrollmentRequiredHandler(handler: () => void) {
  onEnrollmentRequired = handler
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return (await send(method, path, body)).data as T
}

/** One page of a paginated list and the `X-Next-Cursor` that continues it (null on the last page). */
export interface Page<T> {
  items: T[]
  next: string | null
}

export async function getPage<T>(path: string): Promise<Page<T>> {
  const { data, response } = await send('GET', path)
  return { items: data as T[], next: response.headers.get('X-Next-Cursor') }
}

async function send(method: string, path: string, body?: unknown): Promise<{ data: unknown; response: Response }> {
  let response: Response
  try {
    response = await fetch(`/api${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, describe(0, null))
  }
  const text = await response.text()
  let data: unknown = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!response.ok) {
    const err = data as ErrorBody | null
    if (response.status === 401 && !path.startsWith('/auth/login') && onUnauthorized) onUnauthorized()
    if (response.status === 403 && err?.code === 'mfa_enrollment_required' && onEnrollmentRequired) onEnrollmentRequired()
    throw new ApiError(response.status, describe(response.status, err), err?.code, err ?? undefined)
  }
  return { data, response }
}

export const get = <T>(path: string) => api<T>('GET', path)
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const put = <T>(path: string, body?: unknown) => api<T>('PUT', path, body ?? {})
export const patch = <T>(path: string, body?: unknown) => api<T>('PATCH', path, body ?? {})
export const del = <T>(path: string) => api<T>('DELETE', path)

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof Error) return err.message
  return String(err)
}

export function when(value: string | null | undefined): string {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return value
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
}

export function bytes(n: number | null | undefined): string {
  if (n == null) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v % 1 === 0 ? v : v.toFixed(1)} ${units[i]}`
}
