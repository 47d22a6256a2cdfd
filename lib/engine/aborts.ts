// Aborting a request in flight as Node's socket 'close' aborts it: 'aborted' on the request, then
// the response's 'close', after the handlers have had what arrived before the close.
import type { EngineServerResponse } from './server-response'
import type { EngineSocket } from './socket'
import { kOnAbort } from '../symbols'

/** Sockets whose request's abort waits for the handlers to have read what came (see below). */
export const abortsPending = new WeakSet<EngineSocket>()

export function abortExchange(res: EngineServerResponse) {
  res.req[kOnAbort]()
  res[kOnAbort]()
}

/**
 * The connection closed under an exchange, as Node's socket 'close' aborts the request in
 * flight. A request whose body came whole is the handlers' first: Node reads the close only after
 * it has delivered what came before it, so a body parser already reading gets its 'end' and no
 * 'aborted'. The abort waits for that turn of the event loop here too (the engine may report the
 * close in the same batch as the request).
 */
export function connectionLost(res: EngineServerResponse, socket?: EngineSocket) {
  const { req } = res
  if (req.complete && !req.readableEnded && !req.destroyed) {
    abortsPending.add(req.socket)
    setImmediate(() => {
      abortsPending.delete(req.socket)
      abortExchange(res)
      socket?.markClosed()
    })
    return
  }
  abortExchange(res)
  socket?.markClosed()
}
