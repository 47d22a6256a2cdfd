// `app.listen({ workers })`: the app on several JS threads behind the one native listener.
//
// The main thread binds the listener and supervises: it starts N worker_threads on the process's
// entry file (process.argv[1], as `cluster` forks it), and in each of them the app's own
// `app.listen({ workers })` call serves that listener instead of binding. The engine hands each
// request to the least loaded thread. A worker that dies is replaced; `close()` on the main
// thread's server closes the listener, lets every thread finish its requests, then stops them.
// docs/workers.md says what is shared between the threads and what each has its own of.
import { availableParallelism } from 'node:os'
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads'
import { errors } from '../errors'
import type { HttpServer, ThreadSupervisor } from './server'

/** Where xypriss puts what a worker it started needs to know, in `workerData`. */
const ROLE = '@@xypriss/worker'

/** What a worker thread serves: the `ordinal`-th `app.listen({ workers })` call's listener. */
interface WorkerRole {
  listener: number
  ordinal: number
}

type Message = { [ROLE]: 'ready' | 'closed' }

const role: WorkerRole | undefined = isMainThread ? undefined : (workerData as Record<string, WorkerRole> | null)?.[ROLE]

/** How many native stores of each kind this thread has named (see sharedStoreName). */
const named = new Map<string, number>()

/**
 * A name for the next native store of `kind` (a rate limiter's counters) this thread makes: the
 * same in every worker thread that serves one listener, since each runs the same app and makes
 * its stores in the same order, so the engine can give them one store (xsys-security's
 * `rate_limit::shared`). Undefined outside such a worker: nothing to share with.
 */
export function sharedStoreName(kind: string): string | undefined {
  if (role === undefined) return undefined
  const made = named.get(kind) ?? 0
  named.set(kind, made + 1)
  return `listener-${role.listener}/${kind}/${made}`
}

/** `app.listen({ workers })` calls made so far in this thread: a worker serves the one it was started for. */
let listenCalls = 0

/** The `workers` option of `listen(options)`: a thread count, or undefined when absent (or 0). */
export function workerCount(options: unknown): number | undefined {
  if (options === null || typeof options !== 'object') return undefined
  const value = (options as { workers?: unknown }).workers
  if (value === undefined || value === 0) return undefined
  if (value === 'auto') return availableParallelism()
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value
  throw errors.invalidArgValue('options.workers', value)
}

/**
 * `app.listen(options, cb)` with `options.workers`: on the main thread, binds and starts the
 * workers, and `cb` runs once they all serve; on a worker xypriss started, serves the main
 * thread's listener (and `cb` does not run there).
 */
export function listenOnWorkers(server: HttpServer, args: unknown[], count: number): HttpServer {
  const ordinal = listenCalls++
  const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as (...a: unknown[]) => void) : undefined
  const { workers: _, ...options } = args[0] as Record<string, unknown>
  if (role !== undefined) {
    // Another `app.listen({ workers })` of the same file is served by workers of its own.
    if (role.ordinal === ordinal) serveFromWorker(server, role)
    return server
  }
  // Workers run the process's entry file, which is not this thread's in a worker of the app's own.
  if (!isMainThread) throw errors.notSupported('app.listen({ workers }) in a worker thread xypriss did not start')
  const entry = process.argv[1]
  if (entry === undefined || entry === '') throw errors.notSupported('app.listen({ workers }) without an entry file (as under node -e or the REPL)')
  if (callback !== undefined) {
    let called = false
    const once = (...a: unknown[]) => {
      if (called) return
      called = true
      callback.apply(server, a)
    }
    server.once('listening', once)
    server.once('error', once)
  }
  server.supervisor = new WorkerPool(server, count, entry, ordinal)
  return server.listen(options)
}

/** The servers this worker thread serves, closed at once if its JS dies. */
const serving = new Set<HttpServer>()
let watchingForFatal = false

function serveFromWorker(server: HttpServer, { listener }: WorkerRole): void {
  server.serveShared(listener, threadId)
  serving.add(server)
  server.once('close', () => {
    serving.delete(server)
    post('closed')
  })
  if (!watchingForFatal) {
    watchingForFatal = true
    process.on('uncaughtExceptionMonitor', abandonIfFatal)
  }
  post('ready')
}

/**
 * An exception nothing handles ends this thread. Its requests are closed now rather than when the
 * thread is gone, so no new one is handed to it meanwhile.
 */
function abandonIfFatal(): void {
  if (process.listenerCount('uncaughtException') !== 0 || process.hasUncaughtExceptionCaptureCallback()) return
  for (const server of serving) server.native.abandon()
  serving.clear()
}

function post(what: Message[typeof ROLE]): void {
  parentPort?.postMessage({ [ROLE]: what } satisfies Message)
}

/** How long a closing worker may take over its own 'close' listeners before it is stopped. */
const CLOSE_GRACE_MS = 2000
/** The longest wait before replacing a worker that keeps dying early. */
const MAX_RESTART_DELAY_MS = 5000
/** A worker that dies sooner than this after it started serving is replaced after a delay. */
const EARLY_DEATH_MS = 1000

interface Running {
  worker: Worker
  /** Its threadId (the Worker's reads -1 once it has exited). */
  id: number
  ready: boolean
  readyAt: number
  /** Its server heard the listener close and ran its 'close' listeners. */
  closed: boolean
  error?: unknown
}

/** The main thread's side: starts, replaces and stops the worker threads of one server. */
class WorkerPool implements ThreadSupervisor {
  private readonly running = new Map<number, Running>()
  private listenerId = 0
  /** Every first worker serves: the server is listening. */
  private started = false
  private stopping: (() => void) | undefined
  /** Workers that died early, in a row (see EARLY_DEATH_MS). */
  private failures = 0

  constructor(
    private readonly server: HttpServer,
    private readonly count: number,
    private readonly entry: string,
    private readonly ordinal: number,
  ) {}

  start(listenerId: number): void {
    this.listenerId = listenerId
    for (let i = 0; i < this.count; i++) this.spawn()
  }

  private spawn(): void {
    const worker = new Worker(this.entry, {
      argv: process.argv.slice(2),
      workerData: { [ROLE]: { listener: this.listenerId, ordinal: this.ordinal } satisfies WorkerRole },
    })
    const running: Running = { worker, id: worker.threadId, ready: false, readyAt: 0, closed: false }
    this.running.set(running.id, running)
    worker.on('message', (message: Partial<Message> | null) => {
      const what = message?.[ROLE]
      if (what === 'ready') this.ready(running)
      else if (what === 'closed') {
        running.closed = true
        if (this.stopping !== undefined) void worker.terminate()
      }
    })
    // An exception that ended the worker: on stderr, as an uncaught one is without workers.
    worker.on('error', (error) => {
      running.error = error
      process.stderr.write(`xypriss: worker thread ${running.id} died: ${error instanceof Error ? error.stack : String(error)}\n`)
    })
    worker.on('exit', (code) => this.exited(running, code))
  }

  private ready(running: Running): void {
    running.ready = true
    running.readyAt = Date.now()
    if (this.started || [...this.running.values()].some((r) => !r.ready)) return
    this.started = true
    this.server.emit('listening')
  }

  private exited(running: Running, code: number): void {
    this.running.delete(running.id)
    // Whatever it had in flight is closed, if the thread did not say so itself as it died.
    this.server.native.abandonThread(running.id)
    if (this.stopping !== undefined) {
      if (this.running.size === 0) this.stopping()
      return
    }
    // The listener is closing: stop() follows once it has closed.
    if (!this.server.listening) return
    if (!this.started && !running.ready) {
      const error = running.error ?? new Error(`worker thread ${running.id} exited with code ${code} before serving: does ${this.entry} call app.listen({ workers })?`)
      this.fail(error)
      return
    }
    if (running.ready && Date.now() - running.readyAt >= EARLY_DEATH_MS) {
      this.failures = 0
      this.spawn()
      return
    }
    // One that dies before serving or soon after: try again, waiting longer each time, so an app
    // that cannot start does not spin.
    const delay = Math.min(100 * 2 ** this.failures++, MAX_RESTART_DELAY_MS)
    setTimeout(() => {
      if (this.stopping === undefined && this.server.listening) this.spawn()
    }, delay).unref()
  }

  /** The first workers could not start: the listen fails, as a bind error would. */
  private fail(error: unknown): void {
    this.server.close()
    this.server.emit('error', error)
  }

  stop(done: () => void): void {
    if (this.running.size === 0) {
      done()
      return
    }
    this.stopping = done
    for (const { worker, ready, closed } of this.running.values()) {
      if (!ready || closed) {
        void worker.terminate()
        continue
      }
      // It gets the listener's close too; once its 'close' listeners ran, it is stopped.
      const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS)
      worker.once('exit', () => clearTimeout(timer))
    }
  }
}
