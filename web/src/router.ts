import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import type { Role } from './api'
import { approves, can, loadMe, mustEnrol, seesGroups, session, settleSso } from './session'

/** Second factors; the one page a session that must enrol one may use. */
export const SECURITY = '/account/security'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without logging in. */
    public?: boolean
    /** The lowest role that sees the page. */
    min?: Role
    /** Who else sees the page, beyond `min` (e.g. a group's manager). */
    allow?: () => boolean
    title?: string
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/account' },
    { path: '/login', component: () => import('./views/LoginView.vue'), meta: { public: true, title: 'Log in' } },
    { path: '/register', component: () => import('./views/RegisterView.vue'), meta: { public: true, title: 'Register' } },
    { path: '/account', component: () => import('./views/AccountView.vue'), meta: { title: 'My account' } },
    { path: SECURITY, component: () => import('./views/SecurityView.vue'), meta: { title: 'Security' } },
    { path: '/overview', component: () => import('./views/OverviewView.vue'), meta: { min: 'operator', title: 'Overview' } },
    { path: '/users', component: () => import('./views/UsersView.vue'), meta: { min: 'operator', title: 'Users' } },
    { path: '/users/:id(\\d+)/sessions', component: () => import('./views/UserSessionsView.vue'), meta: { min: 'admin', title: 'Sessions of a user' } },
    { path: '/invitations', component: () => import('./views/InvitationsView.vue'), meta: { min: 'operator', title: 'Invitations' } },
    { path: '/groups', component: () => import('./views/GroupsView.vue'), meta: { allow: seesGroups, title: 'Groups' } },
    { path: '/approvals', component: () => import('./views/ApprovalsView.vue'), meta: { allow: approves, title: 'Approvals' } },
    { path: '/sso', component: () => import('./views/SsoView.vue'), meta: { min: 'admin', title: 'Single sign-on' } },
    { path: '/tokens', component: () => import('./views/TokensAdminView.vue'), meta: { min: 'admin', title: 'API tokens' } },
    { path: '/service-accounts', component: () => import('./views/ServiceAccountsView.vue'), meta: { min: 'admin', title: 'Service accounts' } },
    { path: '/audit', component: () => import('./views/AuditView.vue'), meta: { min: 'admin', title: 'Audit log' } },
    { path: '/tasks', component: () => import('./views/TasksView.vue'), meta: { min: 'viewer', title: 'Tasks' } },
    { path: '/vps', component: () => import('./views/VpsView.vue'), meta: { min: 'viewer', title: 'VPS' } },
    { path: '/vps/my', component: () => import('./views/MyVpsView.vue'), meta: { min: 'user', title: 'My VPS' } },
    { path: '/:rest(.*)*', component: () => import('./views/NotFoundView.vue'), meta: { public: true, title: 'Not found' } },
  ],
})

router.beforeEach(async (to: RouteLocationNormalized) => {
  if (!session.loaded) {
    settleSso(to.path, to.query)
    try {
      await loadMe()
    } catch {
      // The service is unreachable: let the page show its own error.
    }
  }
  if (to.meta.public) {
    // A failed linking flow lands on the login page too: a logged-in user still sees its message.
    if (to.path === '/login' && session.user && !to.query.sso_error) return { path: (to.query.next as string) || '/account' }
    return true
  }
  if (!session.user) return { path: '/login', query: to.fullPath !== '/account' ? { next: to.fullPath } : {} }
  // The service refuses such a session everything else (403 mfa_enrollment_required).
  if (mustEnrol() && to.path !== SECURITY) return { path: SECURITY }
  if (to.meta.min && !can(to.meta.min)) return { path: '/account' }
  if (to.meta.allow && !to.meta.allow()) return { path: '/account' }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · KohakuRiver` : 'KohakuRiver'
})
