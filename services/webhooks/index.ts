// Push webhooks of GitHub, GitLab, Gitea, Forgejo, Gogs and Bitbucket:
// recognise the sender, verify, parse, decide. Other folders import this file,
// never the files behind it.
export * from './receiver.js'
