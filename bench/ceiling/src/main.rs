//! The bench ceiling: the bench routes served by hyper alone, no JavaScript anywhere.
//!
//! Whatever a JS-bridged engine does, it still accepts, parses and writes HTTP like this server
//! does, and then it also runs JS. So this server's numbers, measured in the same run on the same
//! machine, are the upper bound xypriss can be compared against.
//!
//! Routes (same semantics as the JS bench servers):
//!   GET  /json        -> {"hello":"world"}
//!   GET  /users/:id   -> {"id":"<id>"}
//!   POST /echo        -> the JSON body, parsed and re-serialised
//!   anything else     -> 404 text/plain "Not Found"
//!
//! Port: first argument, else the PORT environment variable, else 0 (any free port).
//! Prints `LISTENING <port>` on stdout once the socket is bound.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Same default as `express.json()` (body-parser's `limit: '100kb'`).
const BODY_LIMIT: usize = 100 * 1024;

const JSON_UTF8: &str = "application/json; charset=utf-8";

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

fn json(value: &serde_json::Value) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => respond(StatusCode::OK, JSON_UTF8, body),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/plain; charset=utf-8",
        text.as_bytes().to_vec(),
    )
}

/// Percent-decodes a path segment the way Express decodes `req.params` (decodeURIComponent).
/// Returns None on malformed escapes or invalid UTF-8 (Express answers 400 there).
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();

    if req.method() == Method::GET {
        if path == "/json" {
            return Ok(json(&serde_json::json!({ "hello": "world" })));
        }
        if let Some(id) = path.strip_prefix("/users/") {
            if !id.is_empty() && !id.contains('/') {
                return Ok(match percent_decode(id) {
                    Some(id) => json(&serde_json::json!({ "id": id })),
                    None => plain(StatusCode::BAD_REQUEST, "Bad Request"),
                });
            }
        }
    } else if req.method() == Method::POST && path == "/echo" {
        let body = match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")),
        };
        return Ok(match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(value) => json(&value),
            Err(_) => plain(StatusCode::BAD_REQUEST, "Bad Request"),
        });
    }

    Ok(plain(StatusCode::NOT_FOUND, "Not Found"))
}

fn port_from_args() -> Result<u16, String> {
    let raw = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .unwrap_or_else(|| "0".to_owned());
    raw.parse::<u16>()
        .map_err(|_| format!("invalid port {raw:?} (pass it as the first argument or PORT)"))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("LISTENING {}", listener.local_addr()?.port());

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            // EMFILE and friends: keep serving the connections we have.
            Err(err) => {
                eprintln!("accept: {err}");
                continue;
            }
        };
        // Node's http server sets TCP_NODELAY by default; match it.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(handle));
            // Client resets and the like are not interesting here.
            let _ = conn.await;
        });
    }
}

fn main() {
    let port = match port_from_args() {
        Ok(port) => port,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tokio runtime: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(serve(port)) {
        eprintln!("server: {err}");
        std::process::exit(1);
    }
}
