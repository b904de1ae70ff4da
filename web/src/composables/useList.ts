// A list fetched from the API: null until the first answer, kept as it was when
// a reload fails (the failure's text goes to `error`, which a load never clears).
import { ref, type Ref } from 'vue'
import { errorText, get } from '../api'

export function useList<T>(path: string | (() => string), error: Ref<string> = ref('')) {
  const items = ref(null) as Ref<T[] | null>
  /** Resolves to whether the list was fetched; never throws. */
  async function load(): Promise<boolean> {
    try {
      items.value = await get<T[]>(typeof path === 'function' ? path() : path)
      return true
    } catch (err) {
      error.value = errorText(err)
      return false
    }
  }
  return { items, error, load }
}
