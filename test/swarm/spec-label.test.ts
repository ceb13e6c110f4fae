import t from 'tap'
import {
  type RenderedService,
  SPEC_LABEL,
  type SwarmService,
  serviceSpecHash,
  specDifferences,
  stackFile,
} from '../../services/host/index.js'

// Drift on Swarm compares a few fields one by one (image, replicas, mode,
// environment, config versions): a change in Git to anything else (a health
// check, a command) must still be a difference, or the changed tree is
// taken as running and never deployed. Each service deployed by docker-cd
// carries the hash of its rendered spec (SPEC_LABEL).

t.test('a change drift does not compare field by field is still drift', async (t) => {
  const web: RenderedService = {
    image: 'busybox',
    command: ['sleep', '3600'],
    deploy: { replicas: 2 },
  }
  const changed: RenderedService = { ...web, healthcheck: { test: ['CMD', 'true'] } }
  const file = JSON.parse(stackFile({ services: { web } }, '/stacks/bsw'))
  t.equal(
    file.services.web.deploy.labels[SPEC_LABEL],
    serviceSpecHash(web),
    'the deploy carries the label',
  )
  const deployed = (labels: Record<string, string>): SwarmService => ({
    id: 'x',
    fullName: 'bsw_web',
    name: 'web',
    image: 'busybox',
    replicas: 2,
    env: [],
    labels,
    specKey: '',
  })
  const asDeployed = deployed(file.services.web.deploy.labels)
  t.same(specDifferences({ services: { web } }, [asDeployed]), [], 'the same spec: no drift')
  t.match(
    specDifferences({ services: { web: changed } }, [asDeployed]),
    [{ service: 'web', field: 'spec', words: /another spec than Git/ }],
    'a health check added in Git: drift',
  )
  t.same(
    specDifferences({ services: { web: changed } }, [deployed({})]),
    [],
    'a service without the label (an older docker-cd): no guess',
  )
})
