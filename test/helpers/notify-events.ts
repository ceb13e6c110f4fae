import type { NotifyEvent } from '../../services/notify/index.js'

// Events as the sync observers will send them, for the notification tests.

export const REVISION = '3f2a1c0d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49'
export const PREVIOUS = '1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e'

export const failedEvent: NotifyEvent = {
  version: 1,
  event: 'failed',
  instance: 'prod-1',
  stack: 'web',
  revision: REVISION,
  subject: 'Raise the worker count',
  reason: 'container web-app-1 exited with code 1 during the health check',
  at: '2026-12-03T03:04:05.000Z',
  rolledBackTo: { revision: PREVIOUS, treeHash: '9a8b7c6d5e4f30211203a4b5c6d7e8f9a0b1c2d3' },
  url: 'https://cd.example.org/stacks/web',
}

export const engineDownEvent: NotifyEvent = {
  version: 1,
  event: 'engine_down',
  instance: 'prod-1',
  reason: 'the Docker socket refused connections for 2 minutes',
  at: '2026-12-03T03:10:00.000Z',
}

export function eventOf(kind: NotifyEvent['event'], extra: Partial<NotifyEvent> = {}): NotifyEvent {
  return { ...failedEvent, rolledBackTo: undefined, url: undefined, event: kind, ...extra }
}
