import t from 'tap'
import { commitStatusTarget } from '../../services/notify/commit-status/index.js'

// Where statuses go, from every form of GIT_REPO_URL, and each refusal in words.

t.test('github.com in every form git accepts', async (t) => {
  const expected = {
    provider: 'github',
    apiBase: 'https://api.github.com',
    owner: 'org',
    repo: 'repo',
    webUrl: 'https://github.com/org/repo',
  }
  for (const repoUrl of [
    'https://github.com/org/repo.git',
    'https://github.com/org/repo',
    'https://github.com/org/repo/',
    'https://GitHub.com/org/repo.git',
    'git@github.com:org/repo.git',
    'github.com:org/repo',
    'ssh://git@github.com/org/repo.git',
    'ssh://git@github.com:22/org/repo.git',
  ]) {
    t.same(commitStatusTarget({ repoUrl }), expected, repoUrl)
  }
})

t.test('gitlab.com: nested groups, project path kept whole', async (t) => {
  for (const repoUrl of [
    'https://gitlab.com/group/sub/project.git',
    'git@gitlab.com:group/sub/project.git',
    'ssh://git@gitlab.com/group/sub/project.git',
  ]) {
    t.same(
      commitStatusTarget({ repoUrl }),
      {
        provider: 'gitlab',
        apiBase: 'https://gitlab.com/api/v4',
        projectPath: 'group/sub/project',
        webUrl: 'https://gitlab.com/group/sub/project',
      },
      repoUrl,
    )
  }
  t.same(commitStatusTarget({ repoUrl: 'https://gitlab.com/group/project.git' }), {
    provider: 'gitlab',
    apiBase: 'https://gitlab.com/api/v4',
    projectPath: 'group/project',
    webUrl: 'https://gitlab.com/group/project',
  })
})

t.test('bitbucket.org: Bitbucket Cloud, workspace and slug', async (t) => {
  for (const repoUrl of [
    'https://bitbucket.org/team/deploy.git',
    'git@bitbucket.org:team/deploy.git',
  ]) {
    t.same(
      commitStatusTarget({ repoUrl }),
      {
        provider: 'bitbucket',
        apiBase: 'https://api.bitbucket.org/2.0',
        workspace: 'team',
        repoSlug: 'deploy',
        webUrl: 'https://bitbucket.org/team/deploy',
      },
      repoUrl,
    )
  }
})

t.test('another host needs COMMIT_STATUS_PROVIDER, said in words', async (t) => {
  const result = commitStatusTarget({ repoUrl: 'https://git.example.com/org/deploy.git' })
  t.same(result, {
    problem:
      'COMMIT_STATUS_PROVIDER: required for git.example.com, which is not github.com, gitlab.com or bitbucket.org: set it to github, gitlab, gitea, bitbucket',
  })
})

t.test('gitea on its own host: API beside the web pages unless told', async (t) => {
  t.same(
    commitStatusTarget({
      repoUrl: 'ssh://git@git.example.com:2222/org/deploy.git',
      provider: 'gitea',
    }),
    {
      provider: 'gitea',
      // The ssh port says nothing about the web port.
      apiBase: 'https://git.example.com/api/v1',
      owner: 'org',
      repo: 'deploy',
      webUrl: 'https://git.example.com/org/deploy',
    },
  )
  t.same(
    commitStatusTarget({
      repoUrl: 'https://git.example.com:3000/org/deploy.git',
      provider: 'gitea',
    }),
    {
      provider: 'gitea',
      apiBase: 'https://git.example.com:3000/api/v1',
      owner: 'org',
      repo: 'deploy',
      webUrl: 'https://git.example.com:3000/org/deploy',
    },
  )
  t.same(
    commitStatusTarget({
      repoUrl: 'git@code.example.com:org/deploy.git',
      provider: 'gitea',
      apiUrl: 'https://forgejo.example.com/api/v1/',
    }),
    {
      provider: 'gitea',
      apiBase: 'https://forgejo.example.com/api/v1',
      owner: 'org',
      repo: 'deploy',
      webUrl: 'https://code.example.com/org/deploy',
    },
  )
})

t.test('GitHub Enterprise and self-hosted GitLab need COMMIT_STATUS_API_URL', async (t) => {
  t.same(
    commitStatusTarget({ repoUrl: 'https://ghe.example.com/org/deploy.git', provider: 'github' }),
    {
      problem:
        'COMMIT_STATUS_API_URL: required for GitHub Enterprise Server at ghe.example.com (usually https://ghe.example.com/api/v3)',
    },
  )
  t.same(commitStatusTarget({ repoUrl: 'git@gl.example.com:g/p.git', provider: 'gitlab' }), {
    problem:
      'COMMIT_STATUS_API_URL: required for a self-hosted GitLab at gl.example.com (usually https://gl.example.com/api/v4)',
  })
  t.same(
    commitStatusTarget({
      repoUrl: 'https://ghe.example.com/org/deploy.git',
      provider: 'github',
      apiUrl: 'https://ghe.example.com/api/v3',
    }),
    {
      provider: 'github',
      apiBase: 'https://ghe.example.com/api/v3',
      owner: 'org',
      repo: 'deploy',
      webUrl: 'https://ghe.example.com/org/deploy',
    },
  )
})

t.test('a GitLab under a sub-path: the prefix is not part of the project', async (t) => {
  t.same(
    commitStatusTarget({
      repoUrl: 'https://example.com/gitlab/group/sub/project.git',
      provider: 'gitlab',
      apiUrl: 'https://example.com/gitlab/api/v4',
    }),
    {
      provider: 'gitlab',
      apiBase: 'https://example.com/gitlab/api/v4',
      projectPath: 'group/sub/project',
      webUrl: 'https://example.com/gitlab/group/sub/project',
    },
  )
})

t.test('the provider overrides what the host suggests', async (t) => {
  const target = commitStatusTarget({
    repoUrl: 'https://github.com/org/repo.git',
    provider: 'gitea',
    apiUrl: 'http://127.0.0.1:3000/api/v1',
  })
  t.match(target, { provider: 'gitea', apiBase: 'http://127.0.0.1:3000/api/v1' })
})

t.test('bitbucket means Bitbucket Cloud only', async (t) => {
  t.same(
    commitStatusTarget({ repoUrl: 'https://bb.example.com/scm/p/r.git', provider: 'bitbucket' }),
    {
      problem:
        'COMMIT_STATUS_PROVIDER: bitbucket means Bitbucket Cloud (bitbucket.org); bb.example.com is another host (Bitbucket Data Center has a different API, not supported)',
    },
  )
})

t.test('paths that are not owner/name, said in words', async (t) => {
  t.same(commitStatusTarget({ repoUrl: 'https://github.com/org/sub/repo.git' }), {
    problem: 'GIT_REPO_URL: a GitHub repository path is owner/name; "org/sub/repo" is not',
  })
  t.same(commitStatusTarget({ repoUrl: 'git@bitbucket.org:repo.git' }), {
    problem: 'GIT_REPO_URL: a Bitbucket Cloud repository path is owner/name; "repo" is not',
  })
  t.same(commitStatusTarget({ repoUrl: 'https://gitlab.com/project.git' }), {
    problem:
      'GIT_REPO_URL: a GitLab project path is group/project (or group/sub/project); "project" is not',
  })
})

t.test('URLs the startup check refuses are refused in its words', async (t) => {
  t.same(commitStatusTarget({ repoUrl: 'ftp://github.com/org/repo.git' }), {
    problem:
      'GIT_REPO_URL: must use https:// or ssh:// (got ftp://): use https://host/owner/repo.git, ssh://git@host[:port]/owner/repo.git or git@host:owner/repo.git',
  })
  t.same(commitStatusTarget({ repoUrl: 'https://user:secret@github.com/org/repo.git' }), {
    problem: 'GIT_REPO_URL: must not contain credentials; use GIT_ACCESS_TOKEN and GIT_USERNAME',
  })
  t.same(commitStatusTarget({ repoUrl: 'not a url' }), {
    problem:
      'GIT_REPO_URL: is not a valid URL: use https://host/owner/repo.git, ssh://git@host[:port]/owner/repo.git or git@host:owner/repo.git',
  })
})

t.test('COMMIT_STATUS_API_URL and COMMIT_STATUS_PROVIDER checked', async (t) => {
  const repoUrl = 'https://git.example.com/org/deploy.git'
  t.same(commitStatusTarget({ repoUrl, provider: 'gitea', apiUrl: 'nope' }), {
    problem: 'COMMIT_STATUS_API_URL: is not a valid URL',
  })
  t.same(commitStatusTarget({ repoUrl, provider: 'gitea', apiUrl: 'ftp://x/api' }), {
    problem: 'COMMIT_STATUS_API_URL: must use https:// (got ftp://)',
  })
  t.same(commitStatusTarget({ repoUrl, provider: 'gitea', apiUrl: 'https://u:p@x/api/v1' }), {
    problem: 'COMMIT_STATUS_API_URL: must not contain credentials; use COMMIT_STATUS_TOKEN',
  })
  t.same(commitStatusTarget({ repoUrl, provider: 'gitea', apiUrl: 'https://x/api/v1?a=b' }), {
    problem: 'COMMIT_STATUS_API_URL: must not contain a query or fragment',
  })
  t.same(commitStatusTarget({ repoUrl, provider: 'gogs' as unknown as 'gitea' }), {
    problem: 'COMMIT_STATUS_PROVIDER: must be one of github, gitlab, gitea, bitbucket (got gogs)',
  })
})
