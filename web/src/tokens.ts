// API tokens' scopes and resource limits (issue #23, docs/tokens.md): the
// fixed vocabulary the forms offer, and how a form's fields become a request.
import type { Role, Schemas } from './api'

/** Every scope, in the order the forms offer them. `inherit` is the default and stands alone. */
export const SCOPES = ['inherit', 'read', 'tasks:submit', 'tasks:approve', 'vps:connect', 'vps:manage', 'users:admin', 'tokens:manage'] as const
export type Scope = (typeof SCOPES)[number]

/** What each scope lets a token do (always within its owner's current role). */
export const SCOPE_HELP: Record<Scope, string> = {
  inherit: 'all of the owner’s rights (default)',
  read: 'read everything the owner may read',
  'tasks:submit': 'submit and cancel tasks',
  'tasks:approve': 'approve and reject tasks, set their status',
  'vps:connect': 'connect to VPS',
  'vps:manage': 'manage and assign VPS (includes connect)',
  'users:admin': 'users, groups, invitations, service accounts',
  'tokens:manage': 'create, rotate and revoke tokens',
}

/**
 * The lowest role an owner needs to be granted each scope; the service
 * answers 422 for one above the owner's role, so the form does not offer it.
 */
export const SCOPE_MIN_ROLE: Record<Scope, Role> = {
  inherit: 'viewer',
  read: 'viewer',
  'tokens:manage': 'viewer',
  'tasks:submit': 'user',
  'vps:connect': 'user',
  'tasks:approve': 'operator',
  'vps:manage': 'operator',
  'users:admin': 'admin',
}

/** The body of a token creation (`POST /api/auth/tokens`, `…/service-accounts/{id}/tokens`). */
export type TokenRequest = Schemas['NewToken']

/**
 * The resources field: `vps:<id>` and `task:<id>` separated by commas (or
 * spaces). The service checks each one; the panel only splits.
 */
export function parseResources(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((r) => r.trim())
    .filter(Boolean)
}

/**
 * The next scope selection after a checkbox changed: `inherit` excludes every
 * other scope, and an empty selection falls back to `inherit`.
 */
export function toggleScope(current: readonly string[], scope: Scope, on: boolean): string[] {
  let next: string[]
  if (scope === 'inherit') next = on ? ['inherit'] : []
  else {
    const rest = current.filter((s) => s !== 'inherit' && s !== scope)
    next = on ? [...rest, scope] : rest
  }
  // Keep the vocabulary's order, whatever order they were ticked in.
  next = SCOPES.filter((s) => next.includes(s))
  return next.length ? next : ['inherit']
}
