import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

describe('req.range', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => {
        const range = req.range(120)
        res.json(out(Array.isArray(range) ? { type: (range as { type?: string }).type, ranges: [...range] } : range))
      })
      app.get('/combine', (req: any, res: any) => {
        const range = req.range(120, { combine: true })
        res.json(out(Array.isArray(range) ? { type: (range as { type?: string }).type, ranges: [...range] } : range))
      })
      return app
    },
    [
      ['GET', '/', {}, '<undefined>'],
      ['GET', '/', { range: 'bytes=0-49' }, { type: 'bytes', ranges: [{ start: 0, end: 49 }] }],
      ['GET', '/', { range: 'bytes=-10' }, { type: 'bytes', ranges: [{ start: 110, end: 119 }] }],
      ['GET', '/', { range: 'bytes=100-' }, { type: 'bytes', ranges: [{ start: 100, end: 119 }] }],
      ['GET', '/', { range: 'bytes=0-1,5-9' }, { type: 'bytes', ranges: [{ start: 0, end: 1 }, { start: 5, end: 9 }] }],
      ['GET', '/', { range: 'bytes=500-600' }, -1],
      ['GET', '/', { range: 'nonsense' }, -2],
      ['GET', '/combine', { range: 'bytes=0-4,2-9' }, { type: 'bytes', ranges: [{ start: 0, end: 9 }] }],
    ],
  )
})
