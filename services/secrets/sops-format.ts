// Which SOPS format a file is in, from its name alone, exactly as sops picks
// it (cmd/sops/formats/formats.go FormatForPath): a case-sensitive suffix
// test on the whole path. So `.env` and `app.env` are dotenv,
// `secret.enc.yaml` is YAML, and anything else, `.env.production`,
// `config.YAML` or `secret.txt` included, is binary (the whole file is one
// encrypted value).
export type SopsFormat = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary'

export function sopsFormatOf(path: string): SopsFormat {
  if (path.endsWith('.yaml') || path.endsWith('.yml')) return 'yaml'
  if (path.endsWith('.json')) return 'json'
  if (path.endsWith('.env')) return 'dotenv'
  if (path.endsWith('.ini')) return 'ini'
  return 'binary'
}
