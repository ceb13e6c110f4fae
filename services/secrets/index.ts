// Secrets in Git: SOPS documents decrypted in memory with age keys, their
// plaintext kept in SECRETS_DIR (memory-backed) and linked from the work
// trees. Other folders import this file, never the files behind it.
export * from './secret-files.js'
export * from './sops.js'
export * from './work-tree-secrets.js'
