// The demo's own repository for SYNC_MODE=apply: two small stacks on a
// busybox image imported on this machine (`pull_policy: never`: no registry
// is asked, so it runs on an air-gapped host too), and the commits the demo
// pushes one after the other. Kept apart from examples/, which stay
// documentation of real Compose files (their images come from Docker Hub).
//
// Every Compose project and the image carry the demo's name (DEMO_NAME,
// `docker-cd-demo` by default): what the demo removes on Ctrl-C is exactly
// what carries it, and a second demo with another name (the test's) never
// touches the first one's.

/** The Compose projects and the image of a demo named `name`. */
export function demoNames(name: string) {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name))
    throw new Error(`DEMO_NAME must be lowercase letters, digits, - and _ (got ${name})`)
  return {
    image: `${name}/busybox:1`,
    stacks: ['web', 'worker'] as const,
    project: (stack: string) => `${name}-${stack}`,
  }
}

export type DemoNames = ReturnType<typeof demoNames>

/** A service's lines: the demo image, never pulled, stopped within a second, checked every second. */
const service = (image: string, command: string, check: string) =>
  `    image: ${image}\n    pull_policy: never\n    command: ["sh", "-c", ${JSON.stringify(command)}]\n    stop_grace_period: 1s\n    healthcheck:\n      test: ${check}\n      interval: 1s\n      timeout: 1s\n      retries: 2\n`

/** busybox httpd serving one line on `port`, healthy once it answers. */
const webServer = (image: string, port: number, page: string) =>
  service(
    image,
    `mkdir -p /www && echo "${page}" > /www/index.html && exec httpd -f -p ${port} -h /www`,
    `["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${port}/"]`,
  )

export const webCompose = (names: DemoNames, apiRelease: number) =>
  `# Two services on the project's own network.
name: ${names.project('web')}
services:
  frontend:
${webServer(names.image, 8080, 'frontend')}  api:
${webServer(names.image, 8081, `api release ${apiRelease}`)}`

/** `readyFile` is what its health check looks for; the service writes /tmp/ready (the image has no /tmp). */
export const workerCompose = (names: DemoNames, readyFile = '/tmp/ready') =>
  `# One service, no network.
name: ${names.project('worker')}
services:
  jobs:
${service(names.image, 'mkdir -p /tmp && touch /tmp/ready && exec sleep inf', `["CMD", "test", "-f", "${readyFile}"]`)}    network_mode: none
`

export const DEMO_README = `# docker-cd demo repository

Each directory holding a Compose file is a stack. \`npm run demo\` pushes
commits here one after the other; commit your own and push to try more.
`
