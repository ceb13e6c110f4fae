import type { LoggerOptions } from 'pino'

// pino options shared by the server and tests: secrets are redacted by path
// wherever they might be logged, on top of git's stderr being scrubbed.
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'config.gitAccessToken',
        'config.webhookSecret',
        'config.apiToken',
        'config.sopsAgeKey',
        'config.notifyUrls',
        'config.commitStatusToken',
        'gitAccessToken',
        'webhookSecret',
        'apiToken',
        'sopsAgeKey',
        'notifyUrls',
        'commitStatusToken',
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-hub-signature-256"]',
        'req.headers["x-hub-signature"]',
        // GitLab sends the webhook secret itself.
        'req.headers["x-gitlab-token"]',
      ],
      censor: '[REDACTED]',
    },
    // Readable on a terminal where pino-pretty is installed (a source
    // install); the image has no dev dependencies, so it logs JSON there.
    ...(process.stdout.isTTY && prettyAvailable() ? { transport: { target: 'pino-pretty' } } : {}),
  }
}

/** Whether pino-pretty can be loaded (a dev dependency: absent from the image). */
function prettyAvailable(): boolean {
  try {
    import.meta.resolve('pino-pretty')
    return true
  } catch {
    return false
  }
}
