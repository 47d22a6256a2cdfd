// The demo started by `npm start`: an ordinary Express app, with `require('express')` swapped.
'use strict'
const express = require('..')

const app = express()
app.use('/api', express.json())

app.get('/', (req, res) => {
  res.send('<h1>xypriss</h1><p>Try <a href="/api/hello">/api/hello</a> or <a href="/users/42">/users/42</a>.</p>')
})
app.get('/api/hello', (req, res) => res.json({ hello: 'world', engine: 'rust' }))
app.get('/users/:id', (req, res) => res.json({ id: req.params.id, query: req.query }))
app.post('/api/echo', (req, res) => res.json({ received: req.body }))

const port = Number(process.env.PORT ?? 3000)
const server = app.listen(port, () => {
  console.log(`xypriss demo listening on http://localhost:${server.address().port}`)
})
server.on('error', (err) => {
  console.error(`cannot listen on port ${port}: ${err.message}`)
  process.exitCode = 1
})
