import type { SwarmServiceView } from '../../schemas/stack.js'
import { badge, escapeHtml, shownTime } from './layout.js'

// A Swarm stack's services on its page: replicas running out of wanted,
// Swarm's update state, and the task of each slot (or node) with the node
// it is on, its state and the engine's error — what `docker stack ps`
// says, on the dashboard. A service row, then one row per task.

export function swarmServicesSection(services: readonly SwarmServiceView[]): string {
  const rows = services.flatMap((service) => {
    const short = service.replicas.running < service.replicas.desired
    const head = `<tr class="swarm-service" data-service="${escapeHtml(service.name)}"><td>${escapeHtml(service.name)}</td><td>${escapeHtml(service.mode)}</td><td class="replicas"><span class="badge ${short ? 'degraded' : 'healthy'}">${service.replicas.running}/${service.replicas.desired}</span></td><td>${badge(service.updateState)}${service.updateMessage ? ` <span class="meta">${escapeHtml(service.updateMessage)}</span>` : ''}</td><td colspan="4"></td></tr>`
    const tasks = service.tasks.map(
      (task) =>
        `<tr class="swarm-task" data-service="${escapeHtml(service.name)}"><td></td><td colspan="3" class="meta">${task.slot ? `slot ${task.slot}` : 'task'}</td><td class="node">${task.node ? escapeHtml(task.node) : '<span class="meta">not placed</span>'}${task.nodeState ? ` ${badge(task.nodeState)}` : ''}</td><td class="state">${badge(task.state)}</td><td class="reason">${escapeHtml(task.error ?? '')}</td><td class="wide">${task.since ? shownTime(task.since) : ''}</td></tr>`,
    )
    return [head, ...tasks]
  })
  return `<section id="swarm-services"><h3>Swarm services</h3><table><thead><tr><th>service</th><th>mode</th><th>replicas</th><th>update</th><th>node</th><th>task state</th><th>error</th><th class="wide">since</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`
}
