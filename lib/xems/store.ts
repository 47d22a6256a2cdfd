// The XEMS store from JS: encrypted, hardware-bound, crash-safe. A write's promise resolves once
// the record is on disk (appended and fsynced; concurrent writers share one fsync).
import { native } from '../binding'
import { codes, errors } from '../errors'

export type XemsValue = string | Buffer | Uint8Array | object | number | boolean | null

export interface XemsOpenOptions {
  path: string
  /** High-entropy key material (>= 32 bytes, e.g. 64 hex chars). Default: env XEMS_SECRET. */
  secret?: string | Buffer
  /** A human-chosen passphrase instead of a key (PBKDF2-SHA256 first). */
  passphrase?: string | Buffer
  pbkdf2Iterations?: number
  /** Mix the machine's identity into the key (default true). Off for containers whose MAC changes. */
  hardwareBound?: boolean
  /** `true`: create a recovery key with a new store (read it once from `store.recoveryKey`).
   *  A string: the recovery key of this store, used to re-bind it when the hardware changed. */
  recoveryKey?: boolean | string
  /** Replaces the detected hardware id (32 bytes); for tests and deployments with their own id. */
  hardwareId?: Buffer
  /** Compact by itself once dead records (superseded, deleted, rotated) pass `deadPercent` % of
   *  the file (default 50) and the file is at least `minFileSize` bytes (default 1 MiB).
   *  `false` leaves compaction to `compact()`. Default on. */
  autoCompact?: false | { minFileSize?: number; deadPercent?: number }
}

export interface SessionOptions {
  sandbox?: string
  ttl?: number
}

// A value's first byte says how to give it back.
const STRING = 0
const BYTES = 1
const JSON_VALUE = 2

function encode(value: XemsValue): Buffer {
  if (typeof value === 'string') return Buffer.concat([Buffer.of(STRING), Buffer.from(value, 'utf8')])
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.concat([Buffer.of(BYTES), value])
  const json = JSON.stringify(value)
  if (json === undefined) throw new TypeError('xems values must be a string, a Buffer or JSON-serialisable')
  return Buffer.concat([Buffer.of(JSON_VALUE), Buffer.from(json, 'utf8')])
}

/** Stored values come back as a string when they are valid UTF-8 (tag included), else a Buffer. */
function decode(stored: string | Buffer | null | undefined): unknown {
  if (stored == null) return undefined
  if (typeof stored === 'string') {
    const tag = stored.charCodeAt(0)
    if (tag === STRING) return stored.slice(1)
    if (tag === JSON_VALUE) return JSON.parse(stored.slice(1))
    if (tag === BYTES) return Buffer.from(stored.slice(1), 'utf8')
    throw errors.xems(codes.XEMS_INTEGRITY, 'stored value has an unknown type tag')
  }
  const body = stored.subarray(1)
  switch (stored[0]) {
    case STRING:
      return body.toString('utf8')
    case BYTES:
      return Buffer.from(body)
    case JSON_VALUE:
      return JSON.parse(body.toString('utf8'))
    default:
      throw errors.xems(codes.XEMS_INTEGRITY, 'stored value has an unknown type tag')
  }
}

function toBuffer(value: string | Buffer | undefined): Buffer | undefined {
  return value === undefined ? undefined : Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')
}

interface Waiter {
  resolve(value: unknown): void
  reject(error: unknown): void
}

type NativeStore = InstanceType<typeof native.XemsStore>

export class XemsStore {
  /** The recovery key created with this store, or undefined. Shown once: store it offline. */
  readonly recoveryKey: string | undefined
  /** Bytes of an unacknowledged, torn last write dropped when the store was opened. */
  readonly droppedTailBytes: number
  private readonly handle: NativeStore
  private readonly waiters: Map<number, Waiter>
  private nextOp = 1

  private constructor(handle: NativeStore, waiters: Map<number, Waiter>) {
    this.handle = handle
    this.waiters = waiters
    this.recoveryKey = handle.recoveryKey ?? undefined
    this.droppedTailBytes = handle.droppedTailBytes
  }

  static async open(options: XemsOpenOptions): Promise<XemsStore> {
    if (!options || typeof options.path !== 'string') throw new TypeError('xems.open needs a path')
    const waiters = new Map<number, Waiter>()
    let handle: NativeStore | undefined
    // [op, ok, value or [code, message]] per completed write
    const onComplete = (batch: unknown[]) => {
      let settled = 0
      for (let i = 0; i + 2 < batch.length; i += 3) {
        const op = batch[i] as number
        const waiter = waiters.get(op)
        settled++
        if (!waiter) continue
        waiters.delete(op)
        if (batch[i + 1]) waiter.resolve(batch[i + 2])
        else {
          const [code, message] = batch[i + 2] as [string, string]
          waiter.reject(errors.xems(code, message))
        }
      }
      handle?.settled(settled)
    }
    const secret = options.passphrase === undefined ? toBuffer(options.secret ?? process.env.XEMS_SECRET) : undefined
    if (options.passphrase === undefined && secret === undefined) {
      throw errors.xems(codes.XEMS_KEY, 'xems needs a secret: options.secret, options.passphrase or env XEMS_SECRET')
    }
    const auto = options.autoCompact
    if (auto !== undefined && auto !== false && (auto === null || typeof auto !== 'object')) {
      throw new TypeError('xems.open: autoCompact must be false or { minFileSize, deadPercent }')
    }
    const result = await native.xemsOpen(
      {
        path: options.path,
        secret,
        passphrase: toBuffer(options.passphrase),
        pbkdf2Iterations: options.pbkdf2Iterations,
        hardwareBound: options.hardwareBound ?? true,
        createRecoveryKey: options.recoveryKey === true,
        hardwareId: options.hardwareId,
        autoCompact: auto !== false,
        autoCompactMinFileSize: auto ? auto.minFileSize : undefined,
        autoCompactDeadPercent: auto ? auto.deadPercent : undefined,
      },
      onComplete,
      typeof options.recoveryKey === 'string' ? options.recoveryKey : undefined,
    )
    if (!(result instanceof native.XemsStore)) {
      const failure = result as { code: string; message: string }
      throw errors.xems(failure.code, failure.message)
    }
    handle = result
    return new XemsStore(handle, waiters)
  }

  private write<T>(start: (op: number) => void): Promise<T> {
    const op = this.nextOp++
    if (this.nextOp > 0xffff_fff0) this.nextOp = 1
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(op, { resolve: resolve as (value: unknown) => void, reject })
      try {
        start(op)
      } catch (error) {
        this.waiters.delete(op)
        reject(error)
      }
    })
  }

  set(sandbox: string, key: string, value: XemsValue, options: { ttl?: number } = {}): Promise<void> {
    return this.write((op) => this.handle.set(op, sandbox, key, encode(value), options.ttl))
  }

  /** Undefined when missing or expired. Decrypted in memory on each read. */
  async get<T = unknown>(sandbox: string, key: string): Promise<T | undefined> {
    return decode(this.handle.get(sandbox, key)) as T | undefined
  }

  /** Synchronous read, for hot paths that cannot await. */
  getSync<T = unknown>(sandbox: string, key: string): T | undefined {
    return decode(this.handle.get(sandbox, key)) as T | undefined
  }

  del(sandbox: string, key: string): Promise<boolean> {
    return this.write((op) => this.handle.del(op, sandbox, key))
  }

  /** Stores `data` under a new random token and returns the token. */
  createSession(data: XemsValue, options: SessionOptions = {}): Promise<string> {
    return this.write((op) => this.handle.createSession(op, options.sandbox ?? 'sessions', encode(data), options.ttl))
  }

  /**
   * The session's data and token, or null. With `rotate`, the session moves to a new token
   * (returned); the old one keeps resolving for `gracePeriod` ms, then never.
   */
  async resolveSession(
    token: string,
    options: { sandbox?: string; rotate?: boolean; gracePeriod?: number } = {},
  ): Promise<{ data: unknown; token: string } | null> {
    const sandbox = options.sandbox ?? 'sessions'
    const stored = this.handle.get(sandbox, token)
    if (stored == null) return null
    const data = decode(stored)
    if (!options.rotate) return { data, token }
    const rotated: string | null = await this.write((op) => this.handle.rotateSession(op, sandbox, token, options.gracePeriod))
    return { data, token: rotated ?? token }
  }

  /**
   * Replaces the data of the session `token` names now, and resolves to whether there was one:
   * a token rotated away within its grace period saves into its successor; one rotated away
   * longer ago, destroyed or unknown saves nothing (a stale request never revives a session).
   * `ttl` restarts the session's lifetime; without it the session keeps its expiry.
   */
  saveSession(token: string, data: XemsValue, options: SessionOptions = {}): Promise<boolean> {
    return this.write((op) => this.handle.saveSession(op, options.sandbox ?? 'sessions', token, encode(data), options.ttl))
  }

  /** Destroys the session `token` names (through a rotated-away token: its successor too). */
  destroySession(token: string, options: { sandbox?: string } = {}): Promise<boolean> {
    return this.write((op) => this.handle.destroySession(op, options.sandbox ?? 'sessions', token))
  }

  /** Rewrites live records into a fresh file (temp file, fsync, rename, directory fsync). */
  compact(): Promise<void> {
    return this.write((op) => this.handle.compact(op))
  }

  purgeExpired(): Promise<number> {
    return this.write((op) => this.handle.purgeExpired(op))
  }

  close(): Promise<void> {
    return this.write((op) => this.handle.close(op))
  }

  stats() {
    return this.handle.stats()
  }
}
