// xypriss: an Express 5 drop-in whose HTTP engine is Rust, running inside this process.
import bodyParser from 'body-parser'
import { createApplication } from './application'
import { native } from './binding'
import { HttpServer } from './engine/server'
import { createRouter } from './router'
import { Route } from './router/route'
import { IncomingRequest } from './request'
import { ServerResponse } from './response'

function express() {
  return createApplication()
}

/** Requests handed to JS and not finished or aborted yet, across the process. */
function inFlight(): number {
  return native.inFlight()
}

const exported = Object.assign(express, {
  default: express,
  express,
  Router: createRouter,
  Route,
  json: bodyParser.json,
  raw: bodyParser.raw,
  text: bodyParser.text,
  urlencoded: bodyParser.urlencoded,
  application: createApplication,
  request: IncomingRequest.prototype,
  response: ServerResponse.prototype,
  createServer: (listener?: any) => new HttpServer(listener),
  HttpServer,
  inFlight,
})

export = exported
