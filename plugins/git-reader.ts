import fp from 'fastify-plugin'
import { createGitReader } from '../services/git-reader.js'

declare module 'fastify' {
  interface FastifyInstance {
    gitReader: ReturnType<typeof createGitReader>
  }
}

export default fp(
  async (app) => {
    const { config } = app
    app.decorate(
      'gitReader',
      createGitReader({
        repoUrl: config.gitRepoUrl,
        revision: config.gitRevision,
        accessToken: config.gitAccessToken,
        username: config.gitUsername,
        cacheDir: config.gitCacheDir,
        timeoutMs: config.gitTimeoutMs,
        sslCaInfo: config.gitSslCaInfo,
      }),
    )
  },
  { name: 'git-reader', dependencies: ['config'] },
)
