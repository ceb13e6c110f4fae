// Child process of bench/refresh.ts: runs only the service's refresh path
// (cold, then no-change) so its peak RSS is the service's, not the
// benchmark harness's. Prints the peak RSS in bytes.
import { createDesiredStateRefresh } from '../services/desired-state-refresh.js'
import { createDesiredStateStore } from '../services/desired-state-store.js'
import { createGitReader } from '../services/git-reader.js'

const env = process.env as Record<string, string>
const store = createDesiredStateStore({ ref: 'main', refType: 'branch' })
const refresh = createDesiredStateRefresh({
  git: createGitReader({
    repoUrl: env.BENCH_REPO_URL as string,
    revision: 'main',
    accessToken: env.BENCH_TOKEN,
    username: 'x-access-token',
    cacheDir: env.BENCH_CACHE_DIR as string,
    timeoutMs: 600_000,
    sslCaInfo: env.BENCH_CA_FILE,
  }),
  store,
  deployDir: '',
})
await refresh('startup')
await refresh('periodic')
if (store.current().stacks.length !== Number(env.BENCH_STACKS)) throw new Error('wrong stack count')
process.stdout.write(String(process.resourceUsage().maxRSS * 1024))
