import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

// A real HTTP receiver on loopback for the notification tests: records every
// request (method, path, headers, raw body) and answers as each test says —
// a status with headers, or never (the socket is held until close()).

export type ReceivedRequest = {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: Buffer
  at: number
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang'

export async function startReceiver(
  answer: (request: ReceivedRequest, index: number) => Answer | Promise<Answer> = () => ({
    status: 200,
  }),
) {
  const requests: ReceivedRequest[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', async () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      }
      requests.push(request)
      const reply = await answer(request, requests.length - 1)
      if (reply === 'hang') return
      res.writeHead(reply.status, reply.headers).end(reply.body ?? '')
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>

/** Polls a condition (no fixed sleeps): resolves with its first truthy value. */
export async function until<T>(
  condition: () => T,
  what: string,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = condition()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
