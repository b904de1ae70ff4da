// The state behind a ConfirmDialog: what it is about (open while set), and the
// busy flag and error of its confirm action.
import { ref, type Ref } from 'vue'
import { useAction } from './useAction'

/** `reset` runs on every opening, after the error is cleared (e.g. to empty the dialog's inputs). */
export function useConfirm<T>(reset?: (target: T) => void) {
  const target = ref(null) as Ref<T | null>
  const { busy, error, run: runAction } = useAction()
  function open(t: T) {
    target.value = t
    error.value = ''
    reset?.(t)
  }
  function close() {
    target.value = null
  }
  /** Runs `work` on the current target as a busy action; does nothing when the dialog is closed. */
  async function run(work: (t: T) => Promise<unknown>): Promise<boolean> {
    const t = target.value
    if (!t) return false
    return runAction(() => work(t))
  }
  return { target, busy, error, open, close, run }
}
