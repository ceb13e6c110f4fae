import type { Config } from '../../schemas/config.js'

// The service's own secrets (Git token, webhook secret, API token, age
// identities, the commit-status token, notification URLs) cut out of any text that came from another program (Compose's messages) before it
// is logged, stored or answered. They are never passed to those programs;
// this is the second line.

export function scrubSecrets(
  config: Pick<Config, 'gitAccessToken' | 'webhookSecret' | 'apiToken'> &
    Partial<Pick<Config, 'sopsAgeKey' | 'commitStatusToken' | 'notifyUrls'>>,
): (text: string) => string {
  const secrets = [
    config.gitAccessToken,
    config.webhookSecret,
    config.apiToken,
    // Each age identity on its own (SOPS_AGE_KEY may hold several).
    ...(config.sopsAgeKey?.split(/\s+/) ?? []),
    config.commitStatusToken,
    // Each notification URL whole (its token may sit in the path, as Slack's does).
    ...(config.notifyUrls
      ?.split(/[,\n]/)
      .map((url) => url.trim())
      .filter((url) => !url.startsWith('#')) ?? []),
  ].filter((secret): secret is string => typeof secret === 'string' && secret.length >= 4)
  return (text) => secrets.reduce((clean, secret) => clean.split(secret).join('[REDACTED]'), text)
}
