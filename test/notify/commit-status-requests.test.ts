import t from 'tap'
import {
  BITBUCKET_KEY_MAX,
  bitbucketKey,
  buildCommitStatusRequest,
  type CommitStatusTarget,
  type CommitStatusUpdate,
  commitStatusTarget,
  truncate,
} from '../../services/notify/commit-status/index.js'

// The request each host's own API asks for, built from one update.

const sha = 'a'.repeat(40)
const token = 'tok-123456789'
const update: CommitStatusUpdate = {
  sha,
  state: 'pending',
  context: 'docker-cd/prod/web',
  description: 'deploying web',
  targetUrl: 'https://cd.example.com/stacks/web',
}

function target(repoUrl: string, extra: { provider?: 'gitea'; apiUrl?: string } = {}) {
  const result = commitStatusTarget({ repoUrl, ...extra })
  if ('problem' in result) throw new Error(result.problem)
  return result as CommitStatusTarget
}

t.test('GitHub: POST /repos/{owner}/{repo}/statuses/{sha}', async (t) => {
  const request = buildCommitStatusRequest(target('git@github.com:org/repo.git'), update, token)
  t.same(request, {
    method: 'POST',
    url: `https://api.github.com/repos/org/repo/statuses/${sha}`,
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'user-agent': 'docker-cd',
      'x-github-api-version': '2022-11-28',
    },
    body: {
      state: 'pending',
      context: 'docker-cd/prod/web',
      description: 'deploying web',
      target_url: 'https://cd.example.com/stacks/web',
    },
  })
  const failure = buildCommitStatusRequest(
    target('https://github.com/org/repo'),
    { ...update, state: 'failure', description: 'x'.repeat(300), targetUrl: undefined },
    token,
  )
  t.equal(failure.body.state, 'failure')
  t.equal(failure.body.description?.length, 140, 'cut to 140 characters')
  t.ok(failure.body.description?.endsWith('…'))
  t.notOk('target_url' in failure.body, 'no link without a public URL')
})

t.test('GitLab: POST /projects/:id/statuses/:sha with the path encoded', async (t) => {
  const gitlab = target('https://gitlab.com/group/sub/project.git')
  const request = buildCommitStatusRequest(gitlab, update, token)
  t.same(request, {
    method: 'POST',
    url: `https://gitlab.com/api/v4/projects/group%2Fsub%2Fproject/statuses/${sha}`,
    headers: {
      accept: 'application/json',
      'content-type': 'application/json',
      'private-token': token,
      'user-agent': 'docker-cd',
    },
    body: {
      state: 'running',
      name: 'docker-cd/prod/web',
      description: 'deploying web',
      target_url: 'https://cd.example.com/stacks/web',
    },
  })
  const states = (['pending', 'success', 'failure'] as const).map(
    (state) => buildCommitStatusRequest(gitlab, { ...update, state }, token).body.state,
  )
  t.same(states, ['running', 'success', 'failed'])
  const long = buildCommitStatusRequest(
    gitlab,
    {
      ...update,
      description: 'y'.repeat(400),
      targetUrl: `https://cd.example.com/${'z'.repeat(300)}`,
    },
    token,
  )
  t.equal(long.body.description?.length, 255)
  t.notOk('target_url' in long.body, 'a link GitLab would refuse (over 255) is left out')
})

t.test('Gitea/Forgejo: POST /repos/{owner}/{repo}/statuses/{sha}, token auth', async (t) => {
  const gitea = target('ssh://git@git.example.com:2222/org/deploy.git', { provider: 'gitea' })
  const request = buildCommitStatusRequest(gitea, { ...update, state: 'success' }, token)
  t.same(request, {
    method: 'POST',
    url: `https://git.example.com/api/v1/repos/org/deploy/statuses/${sha}`,
    headers: {
      accept: 'application/json',
      authorization: `token ${token}`,
      'content-type': 'application/json',
      'user-agent': 'docker-cd',
    },
    body: {
      state: 'success',
      context: 'docker-cd/prod/web',
      description: 'deploying web',
      target_url: 'https://cd.example.com/stacks/web',
    },
  })
  const failure = buildCommitStatusRequest(gitea, { ...update, state: 'failure' }, token)
  t.equal(failure.body.state, 'failure')
})

t.test('Bitbucket Cloud: POST …/commit/{commit}/statuses/build', async (t) => {
  const bitbucket = target('git@bitbucket.org:team/deploy.git')
  const request = buildCommitStatusRequest(bitbucket, update, token)
  t.same(request, {
    method: 'POST',
    url: `https://api.bitbucket.org/2.0/repositories/team/deploy/commit/${sha}/statuses/build`,
    headers: {
      accept: 'application/json',
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'user-agent': 'docker-cd',
    },
    body: {
      key: bitbucketKey('docker-cd/prod/web'),
      state: 'INPROGRESS',
      name: 'docker-cd/prod/web',
      description: 'deploying web',
      url: 'https://cd.example.com/stacks/web',
    },
  })
  const states = (['pending', 'success', 'failure'] as const).map(
    (state) => buildCommitStatusRequest(bitbucket, { ...update, state }, token).body.state,
  )
  t.same(states, ['INPROGRESS', 'SUCCESSFUL', 'FAILED'])
  const withoutLink = buildCommitStatusRequest(
    bitbucket,
    { ...update, targetUrl: undefined },
    'alice:app-password',
  )
  t.equal(
    withoutLink.body.url,
    `https://bitbucket.org/team/deploy/commits/${sha}`,
    'url is required: without a public URL, the commit page',
  )
  t.equal(
    withoutLink.headers.authorization,
    `Basic ${Buffer.from('alice:app-password').toString('base64')}`,
    'user:secret is sent as Basic',
  )
})

t.test('Bitbucket keys: at most 40 characters, stable, distinct', async (t) => {
  const short = bitbucketKey('docker-cd/prod/web')
  t.equal(short, bitbucketKey('docker-cd/prod/web'), 'the same context gives the same key')
  t.match(short, /^docker-cd-prod-web-[0-9a-f]{10}$/)
  const longA = bitbucketKey(`docker-cd/${'instance'.repeat(5)}/stack-a`)
  const longB = bitbucketKey(`docker-cd/${'instance'.repeat(5)}/stack-b`)
  t.ok(longA.length <= BITBUCKET_KEY_MAX && longB.length <= BITBUCKET_KEY_MAX)
  t.not(longA, longB, 'a shared prefix does not make the keys collide')
  t.not(bitbucketKey('docker-cd/a-b/c'), bitbucketKey('docker-cd/a/b-c'))
})

t.test('truncate: ellipsis, never half a character', async (t) => {
  t.equal(truncate('short', 10), 'short')
  t.equal(truncate('abcdefghijk', 10), 'abcdefghi…')
  const emoji = `${'a'.repeat(8)}😀😀`
  const cut = truncate(emoji, 10)
  t.ok(cut.length <= 10)
  t.notOk(/[\ud800-\udbff]$/.test(cut.slice(0, -1)), 'no lone high surrogate before the ellipsis')
})
