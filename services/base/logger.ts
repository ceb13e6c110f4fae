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
    ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty' } } : {}),
  }
}
