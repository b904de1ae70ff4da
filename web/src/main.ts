import { createApp } from 'vue'
import App from './App.vue'
import { router, SECURITY } from './router'
import { setEnrollmentRequiredHandler, setUnauthorizedHandler } from './api'
import { forget, loadMe, session } from './session'
import './style.css'

setUnauthorizedHandler(() => {
  if (!session.user) return
  forget()
  const here = router.currentRoute.value
  if (!here.meta.public) router.push({ path: '/login', query: { next: here.fullPath } })
})

// The session lost its last second factor while its role requires one (or
// the policy changed): reload who we are, and the router guard leads to the
// security page.
setEnrollmentRequiredHandler(async () => {
  if (!session.user || session.user.mfa_enrollment_required) return
  await loadMe().catch(() => undefined)
  if (router.currentRoute.value.path !== SECURITY) router.push(SECURITY)
})

createApp(App).use(router).mount('#app')
