// The only way the panel talks to the service: same-origin fetches under /api,
// authenticated by the HttpOnly session cookie the browser sends by itself.

export type Role = 'viewer' | 'user' | 'operator' | 'admin'
export const ROLES: Role[] = ['viewer', 'user', 'operator', 'admin']
const RANK: Record<string, number> = { anony: 0, viewer: 1, user: 2, operator: 3, admin: 4 }

export function atLeast(role: string | undefined, min: Role): boolean {
  return (RANK[role ?? ''] ?? 0) >= RANK[min]
}

export interface GroupRef { id: number; name: string }

export interface User {
  id: number
  username: string
  display_name: string | null
  role: Role
  is_active: boolean
  created_at: string
  last_login_at: string | null
  groups?: GroupRef[]
  last_seen_at?: string | null
  active_sessions?: number
  auth_method?: string
  session_expires_at?: string | null
}

export interface Session {
  id: string
  created_at: string
  last_seen_at: string | null
  expires_at: string
  client: string | null
  user_agent: string | null
  current: boolean
}

export interface ApiToken {
  id: number
  name: string
  prefix: string
  created_at: string
  last_used_at: string | null
  expires_at: string | null
}

export interface Group {
  id: number
  name: string
  description: string | null
  created_at: string
  member_count: number
}

export interface Member { id: number; username: string; display_name: string | null; role: Role; is_active: boolean }

export interface Invitation {
  id: number
  role: Role
  groups: GroupRef[]
  max_uses: number
  uses: number
  remaining_uses: number
  expires_at: string
  is_valid: boolean
  created_by: string | null
  created_at: string
  code_prefix: string
}

export interface CreatedInvitation extends Invitation { code: string; register_url: string }

export interface Task {
  task_id: string
  task_type: string
  name: string | null
  status: string
  owner_username: string | null
  command: string | null
  arguments: string[] | null
  env_vars: Record<string, string> | null
  required_cores: number
  required_gpus: number[] | null
  required_memory_bytes: number | null
  targets: string[] | null
  assigned_node: string | null
  container_name: string | null
  registry_image: string | null
  privileged: boolean
  additional_mounts: string[] | null
  submitted_at: string
}

export interface AuditEvent {
  id: string
  at: string
  actor: string
  action: string
  target: string | null
  outcome: string
  reason: string | null
  detail: string | null
  client: string | null
}

/** An answer other than 2xx, carrying the service's `detail` and `code`. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public code?: string,
  ) {
    super(message)
  }
}

interface ErrorBody {
  detail?: unknown
  code?: string
  errors?: { field: string; message: string }[]
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

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    throw new ApiError(response.status, describe(response.status, err), err?.code)
  }
  return data as T
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
