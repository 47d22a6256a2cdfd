// app.listen({ workers }): apps in __test__/fixtures/workers/ run in processes of their own (a
// worker runs the process's entry file), over real sockets on 127.0.0.1. Every response says
// which JS thread answered.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import readline from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { xypriss } from './helpers'

type Line = Record<string, unknown> & { event?: string }

interface AppProcess {
  child: ChildProcess
  port: number
  lines: Line[]
  stderr(): string
  next(event: string, timeoutMs?: number): Promise<Line>
  exited: Promise<number | null>
  send(command: string): void
}

const running = new Set<ChildProcess>()
afterEach(() => {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
})

/** Starts an app and resolves once its listen callback ran. */
function startApp(file: string, env: Record<string, string>): Promise<AppProcess> {
  const app = launch(file, env)
  return app.next('listening').then((line) => {
    const address = line.address as { port: number } | undefined
    return { ...app, port: address?.port ?? (line.port as number) }
  })
}

function launch(file: string, env: Record<string, string>): Omit<AppProcess, 'port'> {
  const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'workers', file)], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  running.add(child)
  const lines: Line[] = []
  const waiters: Array<() => void> = []
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  readline.createInterface({ input: child.stdout! }).on('line', (text) => {
    lines.push(JSON.parse(text) as Line)
    for (const wake of waiters.splice(0)) wake()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const next = (event: string, timeoutMs = 20_000) =>
    new Promise<Line>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs)
      const look = () => {
        const line = lines.find((l) => l.event === event)
        if (line !== undefined) {
          clearTimeout(timer)
          resolve(line)
        } else waiters.push(look)
      }
      look()
    })
  return {
    child,
    lines,
    stderr: () => stderr,
    next,
    exited,
    send: (command) => child.stdin!.write(`${command}\n`),
  }
}

interface Answer {
  status: number
  body: Record<string, unknown> & { threadId?: number }
  /** The client's port: tells connections apart. */
  localPort: number
  at: number
}

function get(port: number, path: string, options: { agent?: http.Agent; method?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: options.agent ?? false,
        headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          const json = (res.headers['content-type'] ?? '').startsWith('application/json')
          resolve({ status: res.statusCode!, body: json ? JSON.parse(text) : { text }, localPort: req.socket!.localPort!, at: Date.now() })
        })
        res.on('error', reject)
      },
    )
    // Never a hang: a request that gets no answer in time fails the test.
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to ${path} within 15 s`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

/** The threads that answer `count` requests made one after another. */
async function threadsAnswering(port: number, count: number): Promise<Set<number>> {
  const ids = new Set<number>()
  for (let i = 0; i < count; i++) {
    const answer = await get(port, '/thread')
    expect(answer.status).toBe(200)
    ids.add(answer.body.threadId!)
  }
  return ids
}

interface Tunnel {
  socket: net.Socket
  thread: number
  read(): Promise<string>
}

/** An Upgrade request on a raw socket, resolved once the 101 came. */
function openTunnel(port: number): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let head = ''
    let opened = false
    let echoed = ''
    let waiting: (() => void) | undefined
    const read = () =>
      new Promise<string>((done) => {
        const take = () => {
          const data = echoed
          echoed = ''
          done(data)
        }
        if (echoed !== '') take()
        else waiting = take
      })
    socket.setEncoding('utf8')
    socket.on('error', reject)
    socket.write('GET /tunnel HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n')
    socket.on('data', (data: string) => {
      if (opened) {
        echoed += data
        const wake = waiting
        waiting = undefined
        wake?.()
        return
      }
      head += data
      if (!head.includes('\r\n\r\n')) return
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`no 101: ${head}`))
      opened = true
      resolve({ socket, thread: Number(/X-Thread: (\d+)/.exec(head)?.[1]), read })
    })
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('app.listen({ workers })', () => {
  it('runs the app on N worker threads behind one listener; the callback runs once, in the main thread, with the address', async () => {
    const app = await startApp('app.js', { WORKERS: '3' })
    const [listening] = app.lines
    expect(listening).toEqual({ event: 'listening', isMainThread: true, threadId: 0, address: { address: '127.0.0.1', family: 'IPv4', port: app.port } })
    // The main thread only supervises: three workers answer, none of them thread 0.
    expect([...(await threadsAnswering(app.port, 30))].sort()).toEqual([1, 2, 3])
    const stats = await get(app.port, '/stats')
    expect(stats.body.threads).toBe(3)
    expect(app.lines.filter((l) => l.event === 'listening')).toHaveLength(1)
  })

  it("'auto' starts one worker per core", async () => {
    const app = await startApp('app.js', { WORKERS: 'auto' })
    expect((await get(app.port, '/stats')).body.threads).toBe(availableParallelism())
  })

  it("a native rate limit counts once for all threads: each worker's limiter made at the same place shares one store", async () => {
    const app = await startApp('app.js', { WORKERS: '2', RATE_LIMIT: '5' })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    // The requests spread over both threads (as the unlimited route shows) ...
    const spread = new Set<number>()
    for (let i = 0; i < 10; i++) spread.add((await get(app.port, '/thread', { agent })).body.threadId!)
    expect(spread).toEqual(new Set([1, 2]))
    // ... yet one client gets its 5 requests in the window, not 5 per thread.
    const statuses: number[] = []
    for (let i = 0; i < 16; i++) statuses.push((await get(app.port, '/limited/thread', { agent })).status)
    agent.destroy()
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200])
    expect(statuses.slice(5)).toEqual(Array(11).fill(429))
  })

  it('hands out each request, not each connection: one kept-alive connection is served by every thread', async () => {
    const app = await startApp('app.js', { WORKERS: '2' })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const answers: Answer[] = []
    for (let i = 0; i < 20; i++) answers.push(await get(app.port, '/thread', { agent }))
    agent.destroy()
    expect(new Set(answers.map((a) => a.localPort)).size).toBe(1)
    expect(new Set(answers.map((a) => a.body.threadId))).toEqual(new Set([1, 2]))
    // Module state is the thread's own: each counts only what it served.
    const served = answers.map((a) => a.body.served as number)
    expect(Math.max(...served)).toBeLessThan(20)
  })

  it('hands an Upgrade to a thread that listens for it; an open tunnel is not work in flight', async () => {
    const app = await startApp('app.js', { WORKERS: '2' })
    const tunnels = await Promise.all([1, 2, 3].map(() => openTunnel(app.port)))
    for (const tunnel of tunnels) {
      expect([1, 2]).toContain(tunnel.thread)
      tunnel.socket.write(`ping ${tunnel.thread}`)
    }
    for (const tunnel of tunnels) expect(await tunnel.read()).toBe(`ping ${tunnel.thread}`)
    // One thread holds two tunnels, the other one: requests still go to both.
    expect(await threadsAnswering(app.port, 10)).toEqual(new Set([1, 2]))
    for (const tunnel of tunnels) tunnel.socket.destroy()
  })

  it('a handler that blocks its thread holds up only that thread: the others keep answering', async () => {
    const app = await startApp('app.js', { WORKERS: '2' })
    const blocked = get(app.port, '/block?ms=3000')
    // The blocking request is in its thread's count from the moment it is dispatched.
    await sleep(300)
    const fast: Answer[] = []
    for (let i = 0; i < 10; i++) fast.push(await get(app.port, '/thread'))
    const slow = await blocked
    expect(slow.status).toBe(200)
    for (const answer of fast) {
      expect(answer.body.threadId).not.toBe(slow.body.threadId)
      expect(answer.at).toBeLessThan(slow.at)
    }
  })

  it('a worker that dies is replaced: its request in flight sees a closed connection, the other thread and the process go on', async () => {
    const app = await startApp('app.js', { WORKERS: '2' })
    const before = await threadsAnswering(app.port, 10)
    expect(before.size).toBe(2)
    // One thread busy with a request that must finish; the other takes the crash.
    const survivor = get(app.port, '/slow?ms=1500')
    await sleep(300)
    const crash = await get(app.port, '/crash').then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    )
    expect(crash).toBe('ECONNRESET')
    const finished = await survivor
    expect(finished.status).toBe(200)
    expect(before.has(finished.body.threadId!)).toBe(true)
    expect(app.stderr()).toMatch(/worker thread \d+ died: Error: crash requested of thread \d+/)
    // A new thread takes the dead one's place.
    let now = new Set<number>()
    for (let round = 0; round < 100; round++) {
      now = await threadsAnswering(app.port, 4)
      if ([...now].some((id) => !before.has(id))) break
      await sleep(100)
    }
    expect([...now].some((id) => !before.has(id))).toBe(true)
    expect((await get(app.port, '/stats')).body.threads).toBe(2)
    expect(app.child.exitCode).toBe(null)
  })

  it('a worker that dies after answering gets no request in between: none fails', async () => {
    const app = await startApp('app.js', { WORKERS: '2' })
    const answered = await get(app.port, '/crash?answer=1&after=100')
    expect(answered.status).toBe(200)
    // It died in the meantime: from the moment it did, requests go to the other thread only.
    await sleep(500)
    const answers: Answer[] = []
    for (let i = 0; i < 30; i++) answers.push(await get(app.port, '/thread'))
    expect(answers.every((a) => a.status === 200 && a.body.threadId !== answered.body.threadId)).toBe(true)
    expect(app.child.exitCode).toBe(null)
  })

  it('close() on the main thread lets requests in flight finish, then every thread stops and the process can exit', async () => {
    const app = await startApp('app.js', { WORKERS: '2' })
    const inFlight = get(app.port, '/slow?ms=1000')
    await sleep(300)
    app.send('close')
    const answer = await inFlight
    expect(answer.status).toBe(200)
    expect(answer.body.threadId).not.toBe(0)
    await app.next('close')
    await expect(get(app.port, '/thread')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    // Nothing is left behind: the process exits by itself.
    expect(await app.exited).toBe(0)
  })

  it("a worker that cannot start fails the listen: the callback gets the worker's error, and the process can exit", async () => {
    const app = launch('app.js', { WORKERS: '2', CRASH_AT_START: '1' })
    const failed = await app.next('error')
    expect(failed.message).toBe('this worker cannot start')
    expect(await app.exited).toBe(0)
    expect(app.lines.some((l) => l.event === 'listening')).toBe(false)
  })

  it('threads running the same app share one route table; a thread whose app differs routes with its own', async () => {
    const same = await startApp('app.js', { WORKERS: '2' })
    for (const answer of [await get(same.port, '/stats'), await get(same.port, '/stats')]) {
      expect(answer.body.routeTables).toBe(1)
    }
    const differs = await startApp('app.js', { WORKERS: '2', EXTRA_ROUTE_ON_THREAD: '1' })
    expect((await get(differs.port, '/stats')).body.routeTables).toBe(2)
    const answers: Answer[] = []
    for (let i = 0; i < 10; i++) answers.push(await get(differs.port, '/extra'))
    // Thread 1's app has the route; thread 2's answers Express's 404, as its own app would.
    expect(answers.filter((a) => a.status === 200).every((a) => a.body.threadId === 1)).toBe(true)
    expect(answers.filter((a) => a.status === 404).every((a) => String(a.body.text).includes('Cannot GET /extra'))).toBe(true)
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200, 404]))
  })
})

describe('createServer({ server: { workers } })', () => {
  it('serves from worker threads, which share one native XEMS store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xypriss-workers-'))
    try {
      const app = await startApp('xypriss-app.js', { XEM_PATH: join(dir, 'shared.xem') })
      const written = await get(app.port, '/kv/greeting', { method: 'POST', body: JSON.stringify({ value: 'hello' }) })
      expect(written.status).toBe(200)
      // Read back through the other thread: it sees the write at once, and the same counters.
      let other: Answer | undefined
      for (let i = 0; i < 20 && other === undefined; i++) {
        const answer = await get(app.port, '/kv/greeting')
        if (answer.body.threadId !== written.body.threadId) other = answer
      }
      expect(other).toBeDefined()
      expect(other!.body).toMatchObject({ value: 'hello', writes: written.body.writes })
      app.child.stdin!.end()
      expect(await app.exited).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the workers option', () => {
  it('takes a positive integer or auto; 0 is none', async () => {
    const app = xypriss()
    for (const workers of [-1, 1.5, 'all', true]) {
      expect(() => app.listen({ port: 0, workers })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    }
    const server = await new Promise<any>((resolve) => {
      const listening = app.listen({ port: 0, host: '127.0.0.1', workers: 0 }, () => resolve(listening))
    })
    expect(server.address().port).toBeGreaterThan(0)
    await new Promise((done) => server.close(done))
  })

  it('is refused by a server made with createHttpServer, which cannot run an app file again', () => {
    const server = xypriss.createHttpServer(xypriss())
    expect(() => server.listen({ port: 0, workers: 2 })).toThrow(expect.objectContaining({ code: 'XYP_ERR_NOT_SUPPORTED' }))
  })
})
