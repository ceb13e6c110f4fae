// Secrets in Git: SOPS documents decrypted in memory with age keys. Other
// folders import this file, never the files behind it.
export * from './sops.js'
