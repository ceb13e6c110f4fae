import { connect, type Socket } from 'node:net'

// HTTP/1.1 over a bare socket: the request line goes out exactly as
// written (no client normalises the path), and the answer can be left
// unread, as a client that stalls would.

export type RawResponse = {
  socket: Socket
  /** Status code, headers and whatever body arrived with them. */
  head: Promise<{ status: number; headers: string; body: string }>
  /** Resolves when the server closes the connection. */
  closed: Promise<void>
}

export function rawRequest(
  port: number,
  method: string,
  target: string,
  options: { headers?: string[]; stallAfterHead?: boolean; localAddress?: string } = {},
): RawResponse {
  // A loopback source address of its own (127.0.0.x) makes another client.
  const socket = connect({ port, host: '127.0.0.1', localAddress: options.localAddress })
  socket.setEncoding('latin1')
  let received = ''
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const head = new Promise<{ status: number; headers: string; body: string }>((resolve, reject) => {
    const onData = (chunk: string) => {
      received += chunk
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      const headers = received.slice(0, end)
      // A stalled client stops reading here: the rest stays in socket buffers.
      if (options.stallAfterHead) {
        socket.off('data', onData)
        socket.pause()
      }
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]),
        headers,
        body: received.slice(end + 4),
      })
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('close', () => reject(new Error(`no answer to ${method} ${target}`)))
  })
  socket.write(
    [
      `${method} ${target} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Content-Length: 0',
      ...(options.headers ?? []),
      '',
      '',
    ].join('\r\n'),
  )
  return { socket, head, closed }
}

/** Sends one request; resolves with the answer's status code and closes the connection. */
export async function rawStatus(
  port: number,
  method: string,
  target: string,
  headers: string[] = [],
): Promise<number> {
  const response = rawRequest(port, method, target, { headers })
  try {
    return (await response.head).status
  } finally {
    response.socket.destroy()
  }
}
