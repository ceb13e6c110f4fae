// Everything asked of Git: the command wrapper, the environment that carries
// credentials, and the reader over the persistent bare mirror. Other folders
// import this file, never the files behind it.
export * from './command.js'
export * from './objects.js'
export * from './reader.js'
export * from './ssh-identity.js'
export * from './stack-commits.js'
