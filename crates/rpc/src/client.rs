//! An HTTP JSON-RPC client for umbra nodes.

use crate::views::*;
use jsonrpsee_core::client::{ClientT, Error as CoreError};
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use serde::de::DeserializeOwned;
use std::time::Duration;
use umbra_types::{Address, Hash};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcClientError {
    /// The node answered with an error object.
    #[error("{message} (code {code})")]
    Rpc { code: i32, message: String },
    /// The node could not be reached or answered garbage.
    #[error("cannot reach the node at {url}: {reason}")]
    Transport { url: String, reason: String },
}

impl RpcClientError {
    /// The RPC error code, if the node answered with one.
    pub fn code(&self) -> Option<i32> {
        match self {
            RpcClientError::Rpc { code, .. } => Some(*code),
            RpcClientError::Transport { .. } => None,
        }
    }
}

/// A connection to one node.
pub struct RpcClient {
    url: String,
    inner: HttpClient,
}

impl RpcClient {
    pub fn new(url: &str) -> Result<Self, RpcClientError> {
        let inner = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .max_request_size(crate::MAX_REQUEST_BYTES * 4)
            .max_response_size(64 * 1024 * 1024)
            .build(url)
            .map_err(|e| RpcClientError::Transport {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(RpcClient {
            url: url.to_string(),
            inner,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls any method with positional parameters.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<serde_json::Value>,
    ) -> Result<T, RpcClientError> {
        let mut p = jsonrpsee_core::params::ArrayParams::new();
        for v in params {
            p.insert(v).map_err(|e| RpcClientError::Transport {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        }
        self.inner
            .request(method, p)
            .await
            .map_err(|e| self.map_err(e))
    }

    fn map_err(&self, e: CoreError) -> RpcClientError {
        match e {
            CoreError::Call(obj) => RpcClientError::Rpc {
                code: obj.code(),
                message: obj.message().to_string(),
            },
            other => RpcClientError::Transport {
                url: self.url.clone(),
                reason: other.to_string(),
            },
        }
    }

    pub async fn head(&self) -> Result<HeaderView, RpcClientError> {
        self.inner
            .request("chain_head", rpc_params![])
            .await
            .map_err(|e| self.map_err(e))
    }

    /// A block by height, hash, or `"latest"`.
    pub async fn block(&self, at: serde_json::Value) -> Result<BlockView, RpcClientError> {
        self.call("chain_block", vec![at]).await
    }

    pub async fn tx(&self, hash: &Hash) -> Result<TxLookup, RpcClientError> {
        self.call("chain_tx", vec![hash.to_hex().into()]).await
    }

    pub async fn account(&self, addr: &Address) -> Result<AccountView, RpcClientError> {
        self.call("state_account", vec![addr.to_bech32().into()])
            .await
    }

    /// Submits a signed transaction, as the hex of its borsh encoding.
    pub async fn submit(&self, tx_hex: String) -> Result<Hash, RpcClientError> {
        self.call("tx_submit", vec![tx_hex.into()]).await
    }

    pub async fn submit_batch(
        &self,
        txs_hex: Vec<String>,
    ) -> Result<Vec<SubmitOutcome>, RpcClientError> {
        self.call("tx_submitBatch", vec![serde_json::Value::from(txs_hex)])
            .await
    }

    pub async fn election_candidates(&self) -> Result<crate::CandidatesView, RpcClientError> {
        self.inner
            .request("election_candidates", rpc_params![])
            .await
            .map_err(|e| self.map_err(e))
    }

    pub async fn consensus_round(&self) -> Result<crate::RoundView, RpcClientError> {
        self.call("consensus_round", vec![]).await
    }

    pub async fn p2p_info(&self) -> Result<crate::P2pInfoView, RpcClientError> {
        self.call("p2p_info", vec![]).await
    }

    pub async fn p2p_peers(&self) -> Result<Vec<crate::PeerView>, RpcClientError> {
        self.call("p2p_peers", vec![]).await
    }

    /// Test networks only (`--admin-rpc`): cut or restore the link to a peer.
    pub async fn admin_block_peer(
        &self,
        peer_id: &str,
        blocked: bool,
    ) -> Result<(), RpcClientError> {
        let method = if blocked {
            "admin_blockPeer"
        } else {
            "admin_unblockPeer"
        };
        self.call::<bool>(method, vec![peer_id.into()])
            .await
            .map(|_| ())
    }

    pub async fn status(&self) -> Result<StatusView, RpcClientError> {
        self.inner
            .request("node_status", rpc_params![])
            .await
            .map_err(|e| self.map_err(e))
    }
}
