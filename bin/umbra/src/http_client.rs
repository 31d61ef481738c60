//! Plain HTTP to a node's content gateway (the RPC port's `/content/…`
//! paths): uploads and raw downloads. JSON-RPC has its own client.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Largest answer read from the gateway: a manifest of the largest content.
const MAX_ANSWER_BYTES: usize = umbra_pdfs::MAX_MANIFEST_BYTES + 4096;

#[derive(Clone)]
pub struct Gateway {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Gateway {
    /// The gateway of the node whose RPC URL is `rpc` (`http://…` or
    /// `ws://…`; both are served on one port).
    pub fn new(rpc: &str) -> anyhow::Result<Self> {
        let rest = rpc
            .strip_prefix("http://")
            .or_else(|| rpc.strip_prefix("ws://"))
            .with_context(|| {
                format!("{rpc:?}: the content gateway is reached over http:// (https is not served by nodes)")
            })?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(64)
            .build(connector);
        Ok(Gateway {
            client,
            base: format!("http://{}", rest.trim_end_matches('/')),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` and returns the body of a 200 answer.
    pub async fn get(&self, path: &str) -> anyhow::Result<Bytes> {
        self.send(http::Method::GET, path, Bytes::new()).await
    }

    /// Sends `body` with `method` and returns the body of a 200 answer;
    /// other statuses become errors carrying the gateway's message.
    pub async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<Bytes> {
        let url = self.url(path);
        let req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(Full::new(body))
            .context("cannot build the request")?;
        let resp = self
            .client
            .request(req)
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer from {url}: {e}"))?
            .to_bytes();
        if !status.is_success() {
            let msg = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            bail!("{msg} (HTTP {status})");
        }
        Ok(body)
    }
}
