// What the engine's native prelude decided for a request (crates/xsys-http/src/prelude/), as the
// batch carries it: one Latin-1 string,
//
//   <plan>\n<notices>\n<ran>\n<count>\n(<ordinal>\n<limit>\n<used>\n<remaining>\n<resetMs>\n<key>\n)*(<Name>:<value>\n)*
//
// the app's plan id, what its rate limiters saw on their first request, how many of the plan's
// stages the engine ran (JS runs the others: a static stage only JS could settle for this
// request, and those after it), the `req.rateLimit` values of each rate limiter that ran, and
// the headers the stages set, in order. The app that compiled the plan (../prelude.ts) gives
// the server what it needs to read it.

/** What the server knows of a plan it installed. */
export interface PreludePlanInfo {
  /** Lower-case names of every header a stage may set: touching one takes them into JS. */
  headerNames: Set<string>
  /** Hands the rate limiters what the engine saw on their first request. */
  notices(bits: number): void
  /** What the router skips when the engine ran the first `ran` stages (the plan itself when it ran all). */
  ranUpTo(ran: number): object
}

/** The plan id a prelude text starts with. */
export function planId(text: string): number {
  return Number.parseInt(text, 10)
}

/** How many of the plan's stages the engine ran. */
export function ranStages(text: string): number {
  const second = text.indexOf('\n') + 1
  const third = text.indexOf('\n', second) + 1
  return Number(text.slice(third, text.indexOf('\n', third)))
}

/** The notices bits of a prelude text (usually 0). */
export function noticeBits(text: string): number {
  const second = text.indexOf('\n') + 1
  if (text.charCodeAt(second) === 48 /* '0' */ && text.charCodeAt(second + 1) === 10) return 0
  return Number(text.slice(second, text.indexOf('\n', second)))
}

/** The lines before the headers, and where the headers start. */
export function preludeHead(text: string): { lines: string[]; headersAt: number } {
  const lines: string[] = []
  let at = 0
  const take = () => {
    const end = text.indexOf('\n', at)
    const line = text.slice(at, end)
    at = end + 1
    return line
  }
  lines.push(take(), take(), take(), take())
  const count = Number(lines[3])
  for (let i = 0; i < count * 6; i++) lines.push(take())
  return { lines, headersAt: at }
}

/**
 * The headers the stages set, as `[lower-case name, [Name, value]]` in order (a name set twice,
 * by res.append, has an array of values).
 */
export function preludeHeaders(text: string): Array<[string, [string, string | string[]]]> {
  const out: Array<[string, [string, string | string[]]]> = []
  const byName = new Map<string, [string, string | string[]]>()
  let at = preludeHead(text).headersAt
  while (at < text.length) {
    const end = text.indexOf('\n', at)
    const colon = text.indexOf(':', at)
    const name = text.slice(at, colon)
    const value = text.slice(colon + 1, end)
    at = end + 1
    const key = name.toLowerCase()
    const entry = byName.get(key)
    if (entry === undefined) {
      const created: [string, string | string[]] = [name, value]
      byName.set(key, created)
      out.push([key, created])
    } else {
      entry[1] = Array.isArray(entry[1]) ? [...entry[1], value] : [entry[1], value]
    }
  }
  return out
}
