import { readdirSync, readFileSync } from 'node:fs'

// The processes this test process started, directly or not (git under
// `timeout`, say), read from /proc: parallel test files have their own, so
// counting by name over the whole machine would count theirs too.

type Proc = { pid: number; ppid: number; args: string }

function allProcesses(): Proc[] {
  const procs: Proc[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // The command name is in parentheses and may hold spaces: fields follow its end.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim()
      procs.push({ pid: Number(name), ppid, args })
    } catch {
      // Gone while we looked.
    }
  }
  return procs
}

/** Command lines of every descendant of this process. */
export function descendants(): string[] {
  const procs = allProcesses()
  const ours = new Set([process.pid])
  let grew = true
  while (grew) {
    grew = false
    for (const proc of procs)
      if (!ours.has(proc.pid) && ours.has(proc.ppid)) {
        ours.add(proc.pid)
        grew = true
      }
  }
  return procs.filter((proc) => proc.pid !== process.pid && ours.has(proc.pid)).map((p) => p.args)
}
