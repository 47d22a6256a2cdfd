// Sub-apps: mountpath, parent, the 'mount' event, app.path(), req.app/res.app and inherited settings,
// on express@5 and on xypriss.
import { describe, expect, it } from 'vitest'
import { express, listen, request, xypriss } from './helpers'

describe.each([
  ['express', express],
  ['xypriss', xypriss],
])('mounted apps on %s', (_name, framework) => {
  it("sets mountpath and parent and emits 'mount' with the parent", () => {
    const parent = framework()
    const child = framework()
    const seen: any[] = []
    child.on('mount', (p: any) => seen.push(p))
    expect(parent.mountpath).toBe('/')
    expect(parent.parent).toBeUndefined()
    parent.use('/blog', child)
    expect(seen).toEqual([parent])
    expect(child.mountpath).toBe('/blog')
    expect(child.parent).toBe(parent)
  })

  it('keeps an array of mount paths', () => {
    const parent = framework()
    const child = framework()
    parent.use(['/a', '/b'], child)
    expect(child.mountpath).toEqual(['/a', '/b'])
  })

  it('computes app.path() through the parents', () => {
    const root = framework()
    const blog = framework()
    const admin = framework()
    root.use('/blog', blog)
    blog.use('/admin', admin)
    expect(root.path()).toBe('')
    expect(blog.path()).toBe('/blog')
    expect(admin.path()).toBe('/blog/admin')
  })

  it('inherits settings set on the parent, before or after mounting, and can override them', () => {
    const parent = framework()
    const child = framework()
    parent.set('before', 1)
    parent.set('json spaces', 2)
    parent.use('/c', child)
    parent.set('after', 2)
    child.set('json spaces', 4)
    expect(child.get('before')).toBe(1)
    expect(child.get('after')).toBe(2)
    expect(child.get('json spaces')).toBe(4)
    expect(parent.get('json spaces')).toBe(2)
    expect(child.enabled('x-powered-by')).toBe(true)
    expect(Object.getPrototypeOf(child.settings)).toBe(parent.settings)
  })

  it("inherits 'trust proxy' unless the sub-app set it", () => {
    const parent = framework()
    parent.set('trust proxy', 'loopback')
    const plain = framework()
    const own = framework()
    own.set('trust proxy', false)
    parent.use('/plain', plain)
    parent.use('/own', own)
    expect(plain.get('trust proxy')).toBe('loopback')
    expect(plain.get('trust proxy fn')).toBe(parent.get('trust proxy fn'))
    expect(own.get('trust proxy')).toBe(false)
    expect(own.get('trust proxy fn')('127.0.0.1', 0)).toBe(false)
  })

  it('serves with req.app/res.app set to the sub-app inside it and restored after it', async () => {
    const parent = framework()
    parent.set('trust proxy', true)
    parent.set('name', 'parent')
    const child = framework()
    child.set('name', 'child')
    child.set('json spaces', 1)
    child.get('/who', (req: any, res: any) =>
      res.json({ req: req.app.get('name'), res: res.app.get('name'), ip: req.ip, base: req.baseUrl, path: child.path() }),
    )
    child.use((req: any, res: any, next: any) => next())
    parent.use('/child', child)
    parent.use((req: any, res: any) => res.json({ after: req.app.get('name'), res: res.app.get('name') }))
    const running = await listen(parent)
    try {
      const inside = await request(running.port, 'GET', '/child/who', { headers: { 'x-forwarded-for': '10.1.2.3' } })
      expect(inside.body.toString()).toBe('{\n "req": "child",\n "res": "child",\n "ip": "10.1.2.3",\n "base": "/child",\n "path": "/child"\n}')
      const after = await request(running.port, 'GET', '/child/other')
      expect(JSON.parse(after.body.toString())).toEqual({ after: 'parent', res: 'parent' })
    } finally {
      await running.close()
    }
  })
})
