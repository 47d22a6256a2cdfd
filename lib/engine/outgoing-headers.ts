// A response's header map as Node keeps it, and Node's checks of header names and values.
import { errors } from '../errors'

const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/
export const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/

export type OutValue = string | number | readonly string[]
export type Entry = [name: string, value: OutValue]

/**
 * Header names already found valid, to their lower-case key. Apps use a few dozen names, so the
 * check and the lower-casing happen once per name, not once per response. Bounded all the same.
 */
const validNames = new Map<string, string>()
const VALID_NAMES_MAX = 1024

/** The key of a name being set: Node's name check, then the lower-case form. */
export function validKey(name: string): string {
  const key = validNames.get(name)
  if (key !== undefined) return key
  if (typeof name !== 'string' || !TOKEN.test(name)) throw errors.invalidHeaderName(String(name))
  const lower = name.toLowerCase()
  if (validNames.size < VALID_NAMES_MAX) validNames.set(name, lower)
  return lower
}

/** The key of a name being read or removed (no check, as in Node). */
export function keyOf(name: string): string {
  return validNames.get(name) ?? name.toLowerCase()
}

export function validateValue(name: string, value: unknown) {
  if (typeof value === 'number') return
  if (value === undefined) throw errors.missingHeaderValue(name)
  if (Array.isArray(value)) {
    for (const v of value) if (INVALID_VALUE.test(String(v))) throw errors.invalidHeaderValue(name)
  } else if (INVALID_VALUE.test(typeof value === 'string' ? value : String(value))) {
    throw errors.invalidHeaderValue(name)
  }
}

/**
 * A response's headers, lower-case name to `[name as set, value]`, as Node's own (Node's
 * OutgoingMessage methods, which some libraries call on any response, read and write this very
 * map). Prototype-less as Node's, but a fast-mode object: the few names most responses set share
 * V8's hidden classes, so writing and listing them is cheap.
 */
export const OutHeaders = function OutHeaders() {} as unknown as new () => Record<string, Entry>
OutHeaders.prototype = Object.create(null)
