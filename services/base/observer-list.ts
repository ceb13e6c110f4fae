// Who hears about a lifecycle (the event feed, metrics, logs): each observer
// is called in turn, and one that throws is reported, never allowed to stall
// the lifecycle, a waiter or the observers after it. One list serves every
// domain (refresh, sync), each with its own observer type.

export function createObserverList<O>(initial: readonly O[], onError?: (error: unknown) => void) {
  const observers = [...initial]
  return {
    add(observer: O) {
      observers.push(observer)
    },
    /** Calls every observer (or only `only`); failures go to `onError`. */
    notify(call: (observer: O) => void, only?: O) {
      for (const observer of observers) {
        if (only && observer !== only) continue
        try {
          call(observer)
        } catch (error) {
          try {
            onError?.(error)
          } catch {
            // A broken error sink must not break the lifecycle either.
          }
        }
      }
    },
  }
}

export type ObserverList<O> = ReturnType<typeof createObserverList<O>>
