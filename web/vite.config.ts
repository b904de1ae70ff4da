import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// `npm run dev` proxies /api to a running krv-server (KRV_API, default :8000),
// so the browser still sees one origin.
export default defineConfig({
  plugins: [vue()],
  server: {
    proxy: { '/api': process.env.KRV_API ?? 'http://127.0.0.1:8000' },
  },
  build: { outDir: 'dist', emptyOutDir: true },
})
