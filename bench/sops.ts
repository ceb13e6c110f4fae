// SOPS decryption benchmark (not a test): how long decryptSops takes for a
// large YAML (10,000 encrypted values, 1 MiB of plaintext) and for a 50-line
// dotenv, both encrypted by the test encryptor for one age recipient. Each is
// decrypted BENCH_SOPS_WARMUP times first, then BENCH_SOPS_RUNS times; the
// median, minimum and maximum are printed with the file sizes. The time
// includes everything a deploy pays: parsing, the age data key (X25519),
// every value's AES-256-GCM, the MAC and printing the plaintext.
//
//   npm run bench:sops
//   BENCH_SOPS_RUNS=30 npm run bench:sops
import { randomBytes } from 'node:crypto'
import { cpus } from 'node:os'
import { generateX25519Identity, identityToRecipient } from 'age-encryption'
import { decryptSops, type SopsFormat } from '../services/secrets/index.js'
import { encryptSops } from '../test/helpers/sops-encrypt.js'

const RUNS = Number(process.env.BENCH_SOPS_RUNS ?? 10)
const WARMUP = Number(process.env.BENCH_SOPS_WARMUP ?? 3)
const identity = await generateX25519Identity()
const recipient = await identityToRecipient(identity)

// 100 mappings of 100 keys: 10,000 string values, each padded so the
// plaintext file is exactly 1 MiB.
function bigYaml(): { text: string; values: number } {
  const groups = 100
  const perGroup = 100
  const target = 1024 * 1024
  const skeleton = (width: number) => {
    let text = ''
    for (let group = 0; group < groups; group++) {
      text += `service_${String(group).padStart(3, '0')}:\n`
      for (let key = 0; key < perGroup; key++) {
        text += `    secret_${String(key).padStart(3, '0')}: ${'x'.repeat(width)}\n`
      }
    }
    return text
  }
  const overhead = skeleton(0).length
  const width = Math.floor((target - overhead) / (groups * perGroup))
  let extra = target - overhead - width * groups * perGroup
  let text = ''
  for (let group = 0; group < groups; group++) {
    text += `service_${String(group).padStart(3, '0')}:\n`
    for (let key = 0; key < perGroup; key++) {
      const length = width + (extra-- > 0 ? 1 : 0)
      const value = randomBytes(length).toString('base64url').slice(0, length)
      text += `    secret_${String(key).padStart(3, '0')}: v${value.slice(1)}\n`
    }
  }
  return { text, values: groups * perGroup }
}

function dotenv(): { text: string; values: number } {
  let text = ''
  for (let line = 0; line < 50; line++) {
    text += `APP_SECRET_${String(line).padStart(2, '0')}=${randomBytes(24).toString('base64url')}\n`
  }
  return { text, values: 50 }
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

async function bench(name: string, format: SopsFormat, plain: { text: string; values: number }) {
  const { text } = await encryptSops(plain.text, format, { recipients: [recipient] })
  const check = await decryptSops(text, format, [identity])
  if (check.plaintext.toString() !== plain.text) throw new Error(`${name}: the round trip differs`)
  if (check.values.length !== plain.values) throw new Error(`${name}: wrong number of values`)
  for (let run = 0; run < WARMUP; run++) await decryptSops(text, format, [identity])
  const samples: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now()
    await decryptSops(text, format, [identity])
    samples.push(performance.now() - started)
  }
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`
  const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`
  console.log(
    `| ${name} | ${plain.values} values | plaintext ${kib(Buffer.byteLength(plain.text))} | encrypted ${kib(Buffer.byteLength(text))} | median ${ms(median(samples))} | min ${ms(Math.min(...samples))} | max ${ms(Math.max(...samples))} |`,
  )
}

console.log(
  `decryptSops, ${RUNS} runs after ${WARMUP} warm-up runs; node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs)`,
)
await bench('YAML, 100 × 100 keys', 'yaml', bigYaml())
await bench('dotenv, 50 lines', 'dotenv', dotenv())
