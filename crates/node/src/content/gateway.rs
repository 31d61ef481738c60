//! The HTTP gateway, served on the RPC port next to JSON-RPC:
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET, HEAD | `/content/{id}` | the content, decrypted on the fly with the key in the `X-Umbra-Key` header or the `key` query parameter; `Range: bytes=…` gives 206 |
//! | GET | `/content/{id}/manifest` | the manifest (borsh) |
//! | GET | `/content/{id}/blocks/{i}` | block `i` as stored (ciphertext for private content) |
//! | GET | `/content/{id}/local` | which blocks this node holds (JSON) |
//! | POST | `/content/{id}/manifest` | upload the manifest of allocated content |
//! | POST | `/content/{id}/manifest?upload={token}` | the same, then place the blocks session `token` staged (JSON lists the `missing` ones) |
//! | PUT | `/content/{id}/blocks/{i}` | upload block `i`; it goes to its K storage nodes |
//! | GET | `/uploads` | staging sessions and block store usage (JSON) |
//! | POST | `/uploads` | open a staging session with a signed `StageTicket` (borsh); JSON `{token, reserved, idle_seconds}` |
//! | PUT | `/uploads/{token}/blocks/{block id}` | stage a block before its content is allocated |
//!
//! Errors are JSON `{"error": "…"}` with a fitting status. Everything that
//! arrives is size-checked before it is read into memory.

use super::{ContentError, ContentService};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use umbra_pdfs::{ContentKey, block_span, decode_block};
use umbra_types::Hash;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Upload frames shorter than this are gathered into one.
const SMALL_FRAME: usize = 4096;

/// Blocks fetched ahead of the one being sent, when streaming.
const STREAM_PREFETCH: usize = 8;

/// Puts the gateway in front of the RPC service.
#[derive(Clone)]
pub struct GatewayLayer {
    content: Option<Arc<ContentService>>,
}

impl GatewayLayer {
    pub fn new(content: Option<Arc<ContentService>>) -> Self {
        GatewayLayer { content }
    }
}

impl<S> tower::Layer<S> for GatewayLayer {
    type Service = Gateway<S>;
    fn layer(&self, inner: S) -> Gateway<S> {
        Gateway {
            inner,
            content: self.content.clone(),
        }
    }
}

/// Routes `/content…` to the gateway and everything else to JSON-RPC.
#[derive(Clone)]
pub struct Gateway<S> {
    inner: S,
    content: Option<Arc<ContentService>>,
}

impl<S> tower::Service<HttpRequest> for Gateway<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let path = req.uri().path();
        if path.starts_with("/content/") || path == "/uploads" || path.starts_with("/uploads/") {
            let content = self.content.clone();
            Box::pin(async move { Ok(handle(content, req).await) })
        } else {
            Box::pin(self.inner.call(req))
        }
    }
}

enum Route {
    Content(Hash),
    Manifest(Hash),
    Block(Hash, u64),
    Local(Hash),
    /// `/uploads`: GET the staging status, POST a ticket to open a session.
    Stage,
    /// `PUT /uploads/{token}/blocks/{block id}`
    StageBlock(String, Hash),
}

/// Session tokens are 32 lowercase hex digits.
fn is_token(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn route(path: &str) -> Option<Route> {
    if path == "/uploads" {
        return Some(Route::Stage);
    }
    if let Some(rest) = path.strip_prefix("/uploads/") {
        let mut parts = rest.split('/');
        return match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(token), Some("blocks"), Some(block), None) if is_token(token) => {
                Some(Route::StageBlock(token.to_owned(), block.parse().ok()?))
            }
            _ => None,
        };
    }
    let rest = path.strip_prefix("/content/")?;
    let mut parts = rest.split('/');
    let id: Hash = parts.next()?.parse().ok()?;
    let r = match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) | (Some(""), None, _) => Route::Content(id),
        (Some("manifest"), None, _) => Route::Manifest(id),
        (Some("local"), None, _) => Route::Local(id),
        (Some("blocks"), Some(i), None) => Route::Block(id, i.parse().ok()?),
        _ => return None,
    };
    Some(r)
}

async fn handle(content: Option<Arc<ContentService>>, req: HttpRequest) -> HttpResponse {
    let Some(content) = content else {
        return error(&ContentError::NotStorageNode);
    };
    let Some(route) = route(req.uri().path()) else {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "no such path: use /content/{id}, /content/{id}/manifest, /content/{id}/blocks/{index}, /uploads or /uploads/{token}/blocks/{block id}"}),
        );
    };
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let result = match (&method, route) {
        (&Method::GET | &Method::HEAD, Route::Content(id)) => stream(&content, id, &parts).await,
        (&Method::GET, Route::Manifest(id)) => content
            .fetch_manifest(&id)
            .await
            .map(|m| octets(m.encode())),
        (&Method::GET, Route::Block(id, i)) => match content.fetch_manifest(&id).await {
            Ok(m) => content.fetch_block(&id, &m, i).await.map(octets),
            Err(e) => Err(e),
        },
        (&Method::GET, Route::Local(id)) => local(&content, &id),
        (&Method::POST, Route::Manifest(id)) => {
            let token = query_param(&parts, "upload").map(str::to_owned);
            if token.as_deref().is_some_and(|t| !is_token(t)) {
                return error(&ContentError::BadRequest(
                    "`upload` must be a session token (32 hex digits)".into(),
                ));
            }
            match read_body(&parts, body, umbra_pdfs::MAX_MANIFEST_BYTES).await {
                Ok(body) => match content.upload_manifest(&id, &body).await {
                    Ok(placed) => match token {
                        Some(t) => content.adopt_staged(&id, &t).await,
                        None => Ok(placed),
                    }
                    .map(|p| json(StatusCode::OK, &p)),
                    Err(e) => Err(e),
                },
                Err(r) => return r,
            }
        }
        (&Method::GET, Route::Stage) => Ok(json(StatusCode::OK, &content.staging_status())),
        (&Method::POST, Route::Stage) => {
            match read_body(&parts, body, umbra_pdfs::MAX_STAGE_TICKET_BYTES).await {
                Ok(body) => content
                    .open_stage(&body)
                    .await
                    .map(|o| json(StatusCode::OK, &o)),
                Err(r) => return r,
            }
        }
        (&Method::PUT, Route::StageBlock(token, block)) => {
            if !content.stage_is_open(&token) {
                return error(&ContentError::NoSession(token));
            }
            match read_frames(&parts, body, umbra_pdfs::MAX_STORED_BLOCK).await {
                Ok(frames) => content
                    .stage_block(&token, block, frames)
                    .await
                    .map(|b| json(StatusCode::OK, &b)),
                Err(r) => return r,
            }
        }
        (&Method::PUT, Route::Block(id, i)) => {
            // Refused before the body is read, so unpaid uploads cost no
            // reading.
            if let Err(e) = content.block_upload_allowed(&id, i) {
                return error(&e);
            }
            match read_frames(&parts, body, umbra_pdfs::MAX_STORED_BLOCK).await {
                Ok(frames) => content
                    .upload_block(&id, i, frames)
                    .await
                    .map(|p| json(StatusCode::OK, &p)),
                Err(r) => return r,
            }
        }
        _ => {
            return json(
                StatusCode::METHOD_NOT_ALLOWED,
                &serde_json::json!({"error": format!("{method} is not allowed on this path")}),
            );
        }
    };
    result.unwrap_or_else(|e| error(&e))
}

/// Reads a request body of at most `limit` bytes (a longer one is refused
/// with 413 before more than `limit` bytes are buffered) as the frames it
/// arrived in. Nothing is copied: a block upload is 256 KiB, and the store
/// takes it in parts (joining them first was one more copy of every
/// uploaded byte).
async fn read_frames(
    parts: &Parts,
    body: HttpBody,
    limit: usize,
) -> Result<Vec<Bytes>, HttpResponse> {
    let too_large = || {
        json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({"error": format!("body over the {limit}-byte limit")}),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let mut frames = Vec::new();
    let mut small = BytesMut::new();
    let mut total = 0usize;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"error": format!("cannot read the body: {e}")}),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if data.len() > limit - total {
                return Err(too_large());
            }
            total += data.len();
            // A sender cutting its body into tiny chunks must not cost a
            // frame each: small ones are gathered (each byte copied once),
            // so a body has at most about 2 × limit / SMALL_FRAME frames.
            // Hyper's frames of a well-formed upload are tens of KiB.
            if data.len() < SMALL_FRAME {
                small.extend_from_slice(&data);
            } else {
                if !small.is_empty() {
                    frames.push(small.split().freeze());
                }
                frames.push(data);
            }
        }
    }
    if !small.is_empty() {
        frames.push(small.freeze());
    }
    Ok(frames)
}

/// [`read_frames`], joined into one buffer.
async fn read_body(parts: &Parts, body: HttpBody, limit: usize) -> Result<Vec<u8>, HttpResponse> {
    Ok(read_frames(parts, body, limit).await?.concat())
}

fn local(content: &ContentService, id: &Hash) -> Result<HttpResponse, ContentError> {
    let manifest = content.manifest(id)?;
    let blocks: Vec<u64> = manifest
        .as_ref()
        .map(|m| {
            m.block_ids
                .iter()
                .enumerate()
                .filter(|(_, b)| content.store().has(b))
                .map(|(i, _)| i as u64)
                .collect()
        })
        .unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "content_id": id.to_string(),
            "manifest": manifest.is_some(),
            "blocks": blocks,
        }),
    ))
}

/// The key a requester sent, if any.
fn requested_key(req: &Parts) -> Result<Option<ContentKey>, Box<HttpResponse>> {
    let from_query = req.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("key=").map(str::to_owned))
    });
    let from_header = req
        .headers
        .get("x-umbra-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(hex_key) = from_header.or(from_query) else {
        return Ok(None);
    };
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_key.trim(), &mut bytes).map_err(|_| {
        Box::new(json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"error": "the content key must be 64 hex digits"}),
        ))
    })?;
    Ok(Some(ContentKey::from_bytes(bytes)))
}

fn query_param<'a>(req: &'a Parts, name: &str) -> Option<&'a str> {
    req.uri
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

async fn stream(
    content: &Arc<ContentService>,
    id: Hash,
    req: &Parts,
) -> Result<HttpResponse, ContentError> {
    let key = match requested_key(req) {
        Ok(k) => k,
        Err(r) => return Ok(*r),
    };
    let manifest = content.fetch_manifest(&id).await?;
    if manifest.scheme != umbra_pdfs::Scheme::Public && key.is_none() {
        return Ok(json(
            StatusCode::FORBIDDEN,
            &serde_json::json!({"error": "this content is encrypted: send its key (from your grant: `umbra key ID`) in the X-Umbra-Key header or the key query parameter"}),
        ));
    }
    let size = manifest.size;
    let range = match req.headers.get(header::RANGE).map(parse_range) {
        None | Some(RangeHeader::Ignore) => None,
        Some(RangeHeader::Bytes(spec)) => match spec.resolve(size) {
            Some(r) => Some(r),
            None => {
                let mut r = json(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    &serde_json::json!({"error": format!("range outside the {size}-byte content")}),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(r);
            }
        },
    };
    let (start, end) = range.unwrap_or((0, size));
    let content_type = media_type(query_param(req, "type"));
    let mut builder = Response::builder()
        .status(if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, end - start)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        )
        // Anyone can store content, and it is served from the RPC origin:
        // it must never run as a page there (no sniffing into HTML, no
        // scripts even if a browser renders it).
        .header("x-content-type-options", "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        );
    if range.is_some() {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
        );
    }
    if req.method == Method::HEAD || start == end {
        return Ok(builder
            .body(HttpBody::empty())
            .unwrap_or_else(|_| internal()));
    }
    let Some((first, last, skip)) = block_span(size, start, end) else {
        return Ok(builder
            .body(HttpBody::empty())
            .unwrap_or_else(|_| internal()));
    };
    // The first block is fetched and opened before the answer starts, so a
    // wrong key or missing content is a clear error status rather than a
    // connection cut after the headers.
    let head = match content.fetch_block(&id, &manifest, first).await {
        Ok(stored) => decode_block(&manifest, key.as_ref(), first, &stored),
        Err(e) => return Err(e),
    };
    let head = match head {
        Ok(plain) => plain,
        Err(umbra_pdfs::PdfsError::Decrypt) => {
            return Ok(json(
                StatusCode::FORBIDDEN,
                &serde_json::json!({"error": "wrong key for this content"}),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let service = content.clone();
    let key = key.map(Arc::new);
    let want = end - start;
    let rest = futures::stream::iter(first + 1..=last)
        .map(move |i| {
            let (service, manifest, key) = (service.clone(), manifest.clone(), key.clone());
            async move {
                let stored = service.fetch_block(&id, &manifest, i).await?;
                let plain = decode_block(&manifest, key.as_deref(), i, &stored)?;
                Ok::<_, ContentError>(plain)
            }
        })
        .buffered(STREAM_PREFETCH);
    let blocks = futures::stream::once(futures::future::ready(Ok(head))).chain(rest);
    // Trim the first block's head and the last block's tail to the range.
    let mut skip = skip as usize;
    let mut left = want as usize;
    let frames = blocks.map(move |r| match r {
        Ok(plain) => {
            let from = skip.min(plain.len());
            skip = 0;
            let take = left.min(plain.len() - from);
            left -= take;
            Ok(http_body::Frame::data(
                Bytes::from(plain).slice(from..from + take),
            ))
        }
        Err(e) => {
            tracing::warn!(target: "umbra::storage", content = %id, error = %e, "stream aborted");
            Err(BoxError::from(e.to_string()))
        }
    });
    Ok(builder
        .body(HttpBody::new(StreamBody::new(frames)))
        .unwrap_or_else(|_| internal()))
}

/// The Content-Type a requester asked for with `?type=`, if it is one a
/// page cannot run from (media, plain text, PDF); anything else, or none,
/// is served as `application/octet-stream`.
fn media_type(asked: Option<&str>) -> String {
    let fallback = "application/octet-stream".to_string();
    let Some(t) = asked else { return fallback };
    let t = t
        .replace("%2F", "/")
        .replace("%2f", "/")
        .to_ascii_lowercase();
    let well_formed = t.len() <= 64
        && t.split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/.+-".contains(&c));
    let safe = t.starts_with("video/")
        || t.starts_with("audio/")
        || (t.starts_with("image/") && !t.contains("svg"))
        || t == "text/plain"
        || t == "application/pdf";
    if well_formed && safe { t } else { fallback }
}

enum RangeHeader {
    Bytes(RangeSpec),
    /// Not a single byte range we serve: answer with the whole content
    /// (RFC 9110 lets a server ignore Range).
    Ignore,
}

#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    /// `bytes=a-b` (b inclusive) or `bytes=a-`.
    From(u64, Option<u64>),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// The half-open byte range `[start, end)` within `size`, or `None`
    /// when it is unsatisfiable.
    fn resolve(&self, size: u64) -> Option<(u64, u64)> {
        match *self {
            RangeSpec::From(a, b) => {
                if a >= size {
                    return None;
                }
                let end = b.map_or(size, |b| b.saturating_add(1).min(size));
                (end > a).then_some((a, end))
            }
            RangeSpec::Suffix(0) => None,
            RangeSpec::Suffix(n) => (size > 0).then(|| (size.saturating_sub(n), size)),
        }
    }
}

fn parse_range(v: &HeaderValue) -> RangeHeader {
    let Some(spec) = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().strip_prefix("bytes="))
    else {
        return RangeHeader::Ignore;
    };
    if spec.contains(',') {
        return RangeHeader::Ignore;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeHeader::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, false) => b.parse().ok().map(RangeSpec::Suffix),
        (false, true) => a.parse().ok().map(|a| RangeSpec::From(a, None)),
        (false, false) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if b >= a => Some(RangeSpec::From(a, Some(b))),
            _ => None,
        },
        (true, true) => None,
    };
    parsed.map_or(RangeHeader::Ignore, RangeHeader::Bytes)
}

fn octets(bytes: Vec<u8>) -> HttpResponse {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(HttpBody::from(bytes))
        .unwrap_or_else(|_| internal())
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(HttpBody::from(body))
        .unwrap_or_else(|_| internal())
}

fn error(e: &ContentError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, &serde_json::json!({"error": e.to_string()}))
}

fn internal() -> HttpResponse {
    let mut r = Response::new(HttpBody::from("internal error"));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> Option<RangeSpec> {
        match parse_range(&HeaderValue::from_str(s).unwrap()) {
            RangeHeader::Bytes(r) => Some(r),
            RangeHeader::Ignore => None,
        }
    }

    fn body_of(chunks: &[&[u8]]) -> HttpBody {
        let frames: Vec<Result<http_body::Frame<Bytes>, BoxError>> = chunks
            .iter()
            .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        HttpBody::new(StreamBody::new(futures::stream::iter(frames)))
    }

    fn parts(content_length: Option<usize>) -> Parts {
        let mut b = http::Request::builder().method("PUT").uri("/content/x");
        if let Some(n) = content_length {
            b = b.header(header::CONTENT_LENGTH, n);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[tokio::test]
    async fn bodies_are_read_whole_and_bounded() {
        // Frames arrive in order, whatever their sizes, with or without a
        // length header.
        let got = read_body(&parts(Some(7)), body_of(&[b"ab", b"", b"cdefg"]), 10).await;
        assert_eq!(got.ok().as_deref(), Some(&b"abcdefg"[..]));
        let got = read_body(&parts(None), body_of(&[b"0123456789"]), 10).await;
        assert_eq!(got.ok().map(|b| b.len()), Some(10));
        // A body in one-byte chunks is kept in a bounded number of frames.
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1_000).collect();
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        let frames = read_frames(&parts(None), body_of(&chunks), 1_000).await;
        let frames = frames.ok().unwrap_or_default();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames.concat(), bytes);
        // Over the limit: refused from the header, and from the bytes when
        // the header is missing or lies.
        for (declared, chunks) in [
            (Some(11), vec![&b"x"[..]]),
            (None, vec![&b"012345"[..], &b"67890"[..]]),
            (Some(3), vec![&b"0123456789A"[..]]),
        ] {
            let status = read_body(&parts(declared), body_of(&chunks), 10)
                .await
                .err()
                .map(|r| r.status());
            assert_eq!(status, Some(StatusCode::PAYLOAD_TOO_LARGE), "{declared:?}");
        }
    }

    #[test]
    fn ranges_parse_and_resolve() {
        assert_eq!(range("bytes=0-99").unwrap().resolve(1000), Some((0, 100)));
        assert_eq!(
            range("bytes=990-").unwrap().resolve(1000),
            Some((990, 1000))
        );
        assert_eq!(range("bytes=-10").unwrap().resolve(1000), Some((990, 1000)));
        assert_eq!(range("bytes=-2000").unwrap().resolve(1000), Some((0, 1000)));
        assert_eq!(
            range("bytes=500-5000").unwrap().resolve(1000),
            Some((500, 1000))
        );
        assert_eq!(
            range("bytes=999-999").unwrap().resolve(1000),
            Some((999, 1000))
        );
        assert_eq!(range("bytes=1000-").unwrap().resolve(1000), None);
        assert_eq!(range("bytes=-0").unwrap().resolve(1000), None);
        assert_eq!(range("bytes=0-").unwrap().resolve(0), None);
        assert!(range("bytes=5-1").is_none());
        assert!(range("bytes=0-1,5-6").is_none());
        assert!(range("items=0-1").is_none());
        assert!(range("bytes=x-").is_none());
    }

    #[test]
    fn only_inert_media_types_are_served() {
        assert_eq!(media_type(Some("video/mp4")), "video/mp4");
        assert_eq!(media_type(Some("video%2Fwebm")), "video/webm");
        assert_eq!(media_type(Some("image/png")), "image/png");
        for bad in [
            "text/html",
            "image/svg+xml",
            "application/javascript",
            "video/mp4\r\nx: y",
            "video/",
            "",
        ] {
            assert_eq!(media_type(Some(bad)), "application/octet-stream", "{bad}");
        }
        assert_eq!(media_type(None), "application/octet-stream");
    }

    #[test]
    fn routes() {
        let id = "11".repeat(32);
        assert!(matches!(
            route(&format!("/content/{id}")),
            Some(Route::Content(_))
        ));
        assert!(matches!(
            route(&format!("/content/{id}/")),
            Some(Route::Content(_))
        ));
        assert!(matches!(
            route(&format!("/content/{id}/manifest")),
            Some(Route::Manifest(_))
        ));
        assert!(matches!(
            route(&format!("/content/{id}/blocks/7")),
            Some(Route::Block(_, 7))
        ));
        assert!(route(&format!("/content/{id}/blocks/x")).is_none());
        assert!(route(&format!("/content/{id}/blocks/1/2")).is_none());
        assert!(route("/content/zz").is_none());
        let token = "0123456789abcdef".repeat(2);
        assert!(matches!(route("/uploads"), Some(Route::Stage)));
        assert!(matches!(
            route(&format!("/uploads/{token}/blocks/{id}")),
            Some(Route::StageBlock(t, _)) if t == token
        ));
        for bad in [
            format!("/uploads/{token}/blocks/zz"),
            format!("/uploads/{token}/blocks/{id}/x"),
            format!("/uploads/{}/blocks/{id}", token.to_uppercase()),
            format!("/uploads/{}/blocks/{id}", &token[1..]),
            format!("/uploads/{token}"),
            "/uploads/".to_string(),
        ] {
            assert!(route(&bad).is_none(), "{bad}");
        }
    }
}
