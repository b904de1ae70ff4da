// A paginated list: the first page, then "Load more" follows `X-Next-Cursor`.
// Always sends `limit` (without `limit` and `cursor` some lists answer
// everything). A reload fetches the first page again, as many rows as were
// shown (up to the API's 500), so an action does not shrink the list.
import { ref, type Ref } from 'vue'
import { errorText, getPage } from '../api'

const MAX = 500

export function usePaged<T>(path: () => string, pageSize = 50, error: Ref<string> = ref('')) {
  const items = ref(null) as Ref<T[] | null>
  const next = ref<string | null>(null)
  const loading = ref(false)

  function url(limit: number, cursor?: string) {
    const base = path()
    const q = new URLSearchParams({ limit: String(limit) })
    if (cursor) q.set('cursor', cursor)
    return `${base}${base.includes('?') ? '&' : '?'}${q}`
  }

  /** The first page again (keeping as many rows as shown); resolves to whether it loaded. */
  async function load(keep = true): Promise<boolean> {
    loading.value = true
    try {
      const limit = Math.min(MAX, Math.max(pageSize, keep ? (items.value?.length ?? 0) : 0))
      const page = await getPage<T>(url(limit))
      items.value = page.items
      next.value = page.next
      return true
    } catch (err) {
      error.value = errorText(err)
      return false
    } finally {
      loading.value = false
    }
  }

  /** Appends the next page. */
  async function more(): Promise<boolean> {
    if (!next.value) return false
    loading.value = true
    try {
      const page = await getPage<T>(url(pageSize, next.value))
      items.value = [...(items.value ?? []), ...page.items]
      next.value = page.next
      return true
    } catch (err) {
      error.value = errorText(err)
      return false
    } finally {
      loading.value = false
    }
  }

  return { items, next, loading, error, load, more }
}
