import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { setUnauthorizedHandler } from './api'
import { forget, session } from './session'
import './style.css'

setUnauthorizedHandler(() => {
  if (!session.user) return
  forget()
  const here = router.currentRoute.value
  if (!here.meta.public) router.push({ path: '/login', query: { next: here.fullPath } })
})

createApp(App).use(router).mount('#app')
