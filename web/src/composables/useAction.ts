// The busy / error bookkeeping every form and button of the panel does around a
// request: clear the error, run, put the failure's text where the view shows it.
import { ref, type Ref } from 'vue'
import { errorText } from '../api'

/**
 * Runs `work` with `error` cleared first; a failure's text lands in `error`.
 * Never throws: resolves to whether `work` succeeded.
 */
export async function attempt(error: Ref<string>, work: () => Promise<unknown>): Promise<boolean> {
  error.value = ''
  try {
    await work()
    return true
  } catch (err) {
    error.value = errorText(err)
    return false
  }
}

/**
 * `attempt` with a `busy` flag that is true while the work runs (for disabling
 * the submit button). Pass `error` to share one message slot with other requests.
 */
export function useAction(error: Ref<string> = ref('')) {
  const busy = ref(false)
  async function run(work: () => Promise<unknown>): Promise<boolean> {
    busy.value = true
    try {
      return await attempt(error, work)
    } finally {
      busy.value = false
    }
  }
  return { busy, error, run }
}
