// multer on express@5 and on xypriss: multipart upload of a file and a field, to memory and to disk.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const multer = require('multer')

const BOUNDARY = '----xyprissBoundary7MA4YWxk'
const fileBytes = Buffer.concat([Buffer.from('PNG\r\n--not-a-boundary\r\n'), Buffer.alloc(70_000, 7), Buffer.from([0, 255, 13, 10])])

function multipart(): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nHoliday ☀\r\n`),
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="pic.png"\r\nContent-Type: image/png\r\n\r\n`),
    fileBytes,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ])
}
const headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }

function build(framework: any, dir: string) {
  const app = framework()
  const memory = multer({ storage: multer.memoryStorage(), limits: { fileSize: 100_000 } })
  const disk = multer({ dest: dir })
  app.post('/memory', memory.single('photo'), (req: any, res: any) =>
    res.json({
      title: req.body.title,
      field: req.file.fieldname,
      name: req.file.originalname,
      type: req.file.mimetype,
      size: req.file.size,
      same: req.file.buffer.equals(fileBytes),
    }),
  )
  app.post('/disk', disk.single('photo'), (req: any, res: any) =>
    res.json({ title: req.body.title, path: req.file.path, size: req.file.size, dir: path.dirname(req.file.path) }),
  )
  app.post('/tiny', multer({ limits: { fileSize: 10 } }).single('photo'), (req: any, res: any) => res.send('no'))
  app.use((err: any, req: any, res: any, next: any) => res.status(413).json({ code: err.code }))
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`multer on ${name}`, () => {
    let server: Running
    let dir: string
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-multer-'))
      server = await listen(build(framework, dir))
    })
    afterAll(async () => {
      await server.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('memory storage: the file bytes and the text field', async () => {
      const r = await request(server.port, 'POST', '/memory', { headers, body: multipart() })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body.toString())).toEqual({
        title: 'Holiday ☀',
        field: 'photo',
        name: 'pic.png',
        type: 'image/png',
        size: fileBytes.length,
        same: true,
      })
    })

    it('disk storage: the file lands in the temp dir with the same bytes', async () => {
      const r = await request(server.port, 'POST', '/disk', { headers, body: multipart() })
      expect(r.status).toBe(200)
      const out = JSON.parse(r.body.toString())
      expect(out.title).toBe('Holiday ☀')
      expect(out.dir).toBe(dir)
      expect(out.size).toBe(fileBytes.length)
      expect(fs.readFileSync(out.path).equals(fileBytes)).toBe(true)
    })

    it('a file over the limit reaches the error handler as LIMIT_FILE_SIZE', async () => {
      const r = await request(server.port, 'POST', '/tiny', { headers, body: multipart() })
      expect(r.status).toBe(413)
      expect(JSON.parse(r.body.toString())).toEqual({ code: 'LIMIT_FILE_SIZE' })
    })
  })
}
