// Node's OutgoingMessage header surface for the engine's responses (setHeader, getHeader, ...),
// with the native prelude's headers taken in front on first touch, and the head block the engine
// is given. server-response.ts builds the response on it, as Node's ServerResponse extends its
// OutgoingMessage.
import { EventEmitter } from 'node:events'
import { errors } from '../errors'
import { kHasKnownHeader, kOutHeaders, kPreludeNames, kPreludeTaken, kPreludeText, kSetKnownHeader, kTakePrelude } from '../symbols'
import { type Entry, keyOf, OutHeaders, type OutValue, validateValue, validKey } from './outgoing-headers'
import { preludeHeaders } from './prelude'

/**
 * An EventEmitter by prototype whose constructor is not run: its event list is made by the first
 * listener, as EventEmitter's own methods allow, so a response nobody listens to costs none.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the EventEmitter members come from the prototype (see below)
export class EngineOutgoingMessage {
  headersSent = false
  // EventEmitter's own fields, as its constructor would leave them with no listener yet
  _events: Record<string | symbol, unknown> | undefined = undefined
  _eventsCount = 0
  _maxListeners: number | undefined = undefined;

  [kOutHeaders]: Record<string, Entry> = new OutHeaders();
  /** What the native prelude decided for the request, when it ran (see ./prelude.ts). */
  [kPreludeText]: string | undefined = undefined;
  /**
   * The names of the headers the prelude may have set, while those are still only the engine's:
   * touching one takes them all into this response's own, in front, as if the middleware had set them.
   */
  [kPreludeNames]: Set<string> | undefined = undefined;
  [kPreludeTaken] = false

  /** Node 24's OutgoingMessage.setHeader asks it; the engine never accepts what a strict parser refuses. */
  _isLenientHeaderValidation(): boolean {
    return false
  }

  /** Takes the native prelude's headers into this response's own, in front: they were set first. */
  [kTakePrelude](): void {
    this[kPreludeNames] = undefined
    const text = this[kPreludeText]
    if (text === undefined || this[kPreludeTaken]) return
    this[kPreludeTaken] = true
    const own = this[kOutHeaders]
    const headers: Record<string, Entry> = Object.create(null)
    for (const [key, entry] of preludeHeaders(text)) headers[key] = entry
    // a name JS set too (through Node's own OutgoingMessage methods) keeps the prelude's place
    for (const key in own) headers[key] = own[key]
    this[kOutHeaders] = headers
  }

  setHeader(name: string, value: OutValue): this {
    if (this.headersSent) throw errors.headersSent('set')
    const key = validKey(name)
    validateValue(name, value)
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    this[kOutHeaders][key] = [name, value]
    return this
  }

  appendHeader(name: string, value: OutValue): this {
    if (this.headersSent) throw errors.headersSent('append')
    const key = validKey(name)
    validateValue(name, value)
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    const existing = this[kOutHeaders][key]
    if (existing === undefined) {
      this[kOutHeaders][key] = [name, value]
    } else {
      const list = Array.isArray(existing[1]) ? [...existing[1]] : [String(existing[1])]
      // a number joins the list as given, as in Node
      existing[1] = list.concat(value as string | readonly string[])
    }
    return this
  }

  getHeader(name: string): OutValue | undefined {
    const key = keyOf(name)
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    return this[kOutHeaders][key]?.[1]
  }

  getHeaders(): Record<string, OutValue> {
    if (this[kPreludeNames] !== undefined) this[kTakePrelude]()
    const out: Record<string, OutValue> = Object.create(null)
    for (const key in this[kOutHeaders]) out[key] = this[kOutHeaders][key][1]
    return out
  }

  getHeaderNames(): string[] {
    if (this[kPreludeNames] !== undefined) this[kTakePrelude]()
    return Object.keys(this[kOutHeaders])
  }

  getRawHeaderNames(): string[] {
    if (this[kPreludeNames] !== undefined) this[kTakePrelude]()
    return Object.values(this[kOutHeaders]).map((e) => e[0])
  }

  hasHeader(name: string): boolean {
    const key = keyOf(name)
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    return this[kOutHeaders][key] !== undefined
  }

  removeHeader(name: string): void {
    if (this.headersSent) throw errors.headersSent('remove')
    const key = keyOf(name)
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    delete this[kOutHeaders][key]
  }

  /**
   * setHeader() for a name and value known valid, from Express's own members: the same map entry
   * without the checks, unless the app replaced setHeader (then it is called, as Express would).
   */
  [kSetKnownHeader](key: string, name: string, value: OutValue): void {
    if (this.setHeader !== protoSetHeader || this.headersSent) this.setHeader(name, value)
    else {
      if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
      this[kOutHeaders][key] = [name, value]
    }
  }

  /** hasHeader() for a lower-case name, from Express's own members (the same unless replaced). */
  [kHasKnownHeader](key: string): boolean {
    if (this.hasHeader !== protoHasHeader) return this.hasHeader(key)
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    return this[kOutHeaders][key] !== undefined
  }

  /** Headers as `name:value` lines, names in the case the app last set them (Node sends that case). */
  protected headerBlock(): string {
    let block = ''
    const entries = this[kOutHeaders]
    for (const key in entries) {
      const [name, value] = entries[key]
      if (Array.isArray(value)) {
        for (const v of value) block += name + ':' + v + '\n'
      } else {
        block += name + ':' + value + '\n'
      }
    }
    return block
  }
}

// The EventEmitter surface, by prototype: `instanceof EventEmitter` holds and every method is Node's.
export interface EngineOutgoingMessage extends EventEmitter {}
Object.setPrototypeOf(EngineOutgoingMessage.prototype, EventEmitter.prototype)
Object.setPrototypeOf(EngineOutgoingMessage, EventEmitter)

const protoSetHeader = EngineOutgoingMessage.prototype.setHeader
const protoHasHeader = EngineOutgoingMessage.prototype.hasHeader
