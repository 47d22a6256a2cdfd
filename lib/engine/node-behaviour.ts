// Where Node's http behaves differently across the versions xypriss supports (20, 22, 24), what the
// running Node does. Each answer is asked of Node itself, on throwaway objects, once at load: the
// changes landed in minor releases (and may be backported), so a version number would be a guess.
import http from 'node:http'
import type { Socket } from 'node:net'
import { Writable, getDefaultHighWaterMark } from 'node:stream'

function ask(probe: () => boolean): boolean {
  try {
    return probe()
  } catch {
    // a Node whose internals moved: assume the older behaviour
    return false
  }
}

function probeRequest(): http.IncomingMessage {
  const req = new http.IncomingMessage(null as unknown as Socket)
  req.method = 'GET'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  return req
}

/** Streams' default highWaterMark, a server's and a response's: 16 KiB up to Node 20, 64 KiB since. */
export const defaultHighWaterMark = getDefaultHighWaterMark(false)

/**
 * `writeHead(status, [name, value, ...])` after headers were set: Node 20 sets each pair (a repeated
 * name keeps its last value); since Node 22 the named headers are removed, then every pair appended.
 */
export const flatHeadersAppend = ask(() => {
  const res = new http.ServerResponse(probeRequest())
  res.setHeader('X-Probe', '0')
  res.writeHead(200, ['X-Probe', '1', 'X-Probe', '2'])
  return Array.isArray(res.getHeader('x-probe'))
})

/** Node 24: `writableFinished` turns true with 'finish', no longer as soon as end() hands the data over. */
export const writableFinishedAtFinish = ask(() => {
  const getter = Object.getOwnPropertyDescriptor(http.OutgoingMessage.prototype, 'writableFinished')!.get!
  const ended = Object.create(http.OutgoingMessage.prototype, { finished: { value: true }, outputSize: { value: 0 } })
  return getter.call(ended) !== true
})

/**
 * Node 24: a complete request nobody read, with nothing buffered, ends at once when its response
 * finishes (`_dump()` reads it to its end); before, it was resumed and ended a few ticks later.
 */
export const unreadRequestEndsAtFinish = ask(() => {
  const req = new http.IncomingMessage(null as unknown as Socket)
  req.complete = true
  req.push(null)
  ;(req as unknown as { _dump(): void })._dump()
  return req.readableFlowing === null
})

/**
 * Node 24: chunked writes made in one tick (or while the response is corked) go out as one chunk,
 * the response holding them until the tick ends; before, each write was its own chunk.
 */
export const writesJoinPerTick = ask(() => {
  const res = new http.ServerResponse(probeRequest())
  const socket = new Writable({ write: (_chunk, _encoding, callback) => callback() })
  res.assignSocket(socket as unknown as Socket)
  res.write('a')
  const held = socket.writableLength === 0
  res.destroy()
  return held
})

/**
 * Node 24: destroying a request received and read to its end completes at once ('close' on the next
 * tick); before, the destroy itself completed a tick later, and 'close' one after that.
 */
export const cleanDestroyCompletesAtOnce = ask(() => {
  let completed = false
  const ended = Object.create(http.IncomingMessage.prototype, {
    readableEnded: { value: true },
    complete: { value: true },
    socket: { value: null },
  })
  const { _destroy } = http.IncomingMessage.prototype as unknown as { _destroy(error: Error | null, callback: () => void): void }
  _destroy.call(ended, null, () => {
    completed = true
  })
  return completed
})

// The two below live in Node's native parser and in a closure of net.Server that no throwaway
// object reaches, so they go by the major version: both changed in Node 22.
const nodeMajor = Number(process.versions.node.split('.')[0])

/**
 * A head with more header lines than `server.maxHeadersCount` (1000 when null): refused with 431
 * since Node 22; Node 20 takes it, `req.headers` cut to the count.
 */
export const refusesExtraHeaderLines = nodeMajor >= 22

/** `server.maxConnections = 0` drops every connection since Node 22; Node 20 takes it as no limit. */
export const zeroMaxConnectionsDropsAll = nodeMajor >= 22
