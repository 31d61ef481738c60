//! Wire framing of the request-response protocols (sync and content): a
//! 4-byte little-endian length, then the borsh encoding of one request or
//! response.
//!
//! Why not libp2p's CBOR codec: its limits are fixed (1 MiB / 10 MiB) and serde
//! adds a second encoding of consensus types. Here the length is checked
//! against the limit *before* anything is read, the body is read with
//! `take(len)` so memory grows only as bytes actually arrive, and the body is
//! decoded with `umbra_types::decode_bounded` (no trailing bytes, no
//! preallocation from length prefixes).
//!
//! The two content messages that carry a block (`PutBlock`,
//! `Block(Some(_))`) make up nearly all content bytes, so they skip two
//! copies: they are written as a small borsh head followed by the block
//! bytes straight from the value, and read by parsing the head and reading
//! the block into its own buffer. The bytes on the wire are exactly their
//! borsh encoding (tests check both directions against borsh), and anything
//! that is not exactly that shape takes the general path.

use crate::content::{ContentRequest, ContentResponse};
use crate::sync::{SyncRequest, SyncResponse};
use borsh::{BorshDeserialize, BorshSerialize};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use libp2p::request_response;
use std::io;
use umbra_types::{DecodeError, Hash, MerkleProof, decode_bounded};

/// Length of the frame header.
const LEN_BYTES: usize = 4;

/// Most of a body's buffer reserved before its bytes arrive: a peer that
/// announces a large frame and sends nothing costs at most this. Enough for
/// a full-size content block, so one never needs a second allocation.
const PREALLOC: usize = 320 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {size} bytes is over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("frame is truncated: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl From<FrameError> for io::Error {
    fn from(e: FrameError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Decodes a request body (without the length header).
pub fn decode_request(body: &[u8], limit: usize) -> Result<SyncRequest, FrameError> {
    Ok(decode_bounded(body, limit)?)
}

/// Decodes a response body (without the length header).
pub fn decode_response(body: &[u8], limit: usize) -> Result<SyncResponse, FrameError> {
    Ok(decode_bounded(body, limit)?)
}

/// Encodes a value as one frame, refusing values over `limit` so we never
/// send what the peer is bound to reject.
pub fn encode_frame<T: BorshSerialize>(value: &T, limit: usize) -> Result<Vec<u8>, FrameError> {
    let body_len =
        borsh::object_length(value).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let len = u32::try_from(body_len)
        .ok()
        .filter(|_| body_len <= limit)
        .ok_or(FrameError::TooLarge {
            size: body_len,
            limit,
        })?;
    let mut out = Vec::with_capacity(LEN_BYTES + body_len);
    out.extend_from_slice(&len.to_le_bytes());
    value
        .serialize(&mut out)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Ok(out)
}

/// Size of a response's body on the wire.
pub fn encoded_response_len(response: &SyncResponse) -> usize {
    borsh::object_length(response).unwrap_or(usize::MAX)
}

/// Reads one frame's body, checking the announced length before reading it.
pub async fn read_frame<T: AsyncRead + Unpin>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let len = read_len(io, limit).await?;
    read_body(io, Vec::new(), len).await
}

/// Reads a frame header and checks the announced length against `limit`.
async fn read_len<T: AsyncRead + Unpin>(io: &mut T, limit: usize) -> io::Result<usize> {
    let mut len = [0u8; LEN_BYTES];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > limit {
        return Err(FrameError::TooLarge { size: len, limit }.into());
    }
    Ok(len)
}

/// Appends `len` more bytes of a body to `body` (which holds its first
/// bytes, if any). The buffer grows with what really arrives beyond the
/// first `PREALLOC` bytes, so a peer announcing 64 MiB and sending nothing
/// costs little.
async fn read_body<T: AsyncRead + Unpin>(
    io: &mut T,
    mut body: Vec<u8>,
    len: usize,
) -> io::Result<Vec<u8>> {
    let start = body.len();
    let end = start.saturating_add(len);
    let mut filled = start;
    let mut chunk = PREALLOC;
    while filled < end {
        if filled == body.len() {
            let next = filled.saturating_add(chunk).min(end);
            body.reserve_exact(next - body.len());
            body.resize(next, 0);
            chunk = chunk.saturating_mul(2);
        }
        let Some(buf) = body.get_mut(filled..) else {
            break;
        };
        let n = io.read(buf).await?;
        if n == 0 {
            return Err(FrameError::Truncated {
                expected: len,
                got: filled - start,
            }
            .into());
        }
        filled += n;
    }
    Ok(body)
}

/// Fills `buf` from the stream; running out is a truncated frame.
async fn read_part<T: AsyncRead + Unpin>(io: &mut T, buf: &mut [u8]) -> io::Result<()> {
    io.read_exact(buf).await.map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FrameError::Truncated {
                expected: buf.len(),
                got: 0,
            }
            .into()
        } else {
            e
        }
    })
}

/// Encodes `value` as one frame (refusing it over `limit`) and sends it.
async fn write_value<T, IO>(io: &mut IO, value: &T, limit: usize) -> io::Result<()>
where
    T: BorshSerialize,
    IO: AsyncWrite + Unpin,
{
    let frame = encode_frame(value, limit)?;
    io.write_all(&frame).await?;
    io.flush().await
}

/// The request-response codec for `/umbra/<chain>/sync/1`.
#[derive(Clone, Debug)]
pub struct SyncCodec {
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, self.max_request_bytes).await?;
        Ok(decode_request(&body, self.max_request_bytes)?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, self.max_response_bytes).await?;
        Ok(decode_response(&body, self.max_response_bytes)?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let frame = encode_frame(&request, self.max_request_bytes)?;
        io.write_all(&frame).await?;
        io.flush().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let frame = encode_frame(&response, self.max_response_bytes)?;
        io.write_all(&frame).await?;
        io.flush().await
    }
}

/// The request-response codec for `/umbra/<chain>/content/1`: the same
/// framing with the content protocol's own limits (a block push is far
/// larger than any sync request).
#[derive(Clone, Debug)]
pub struct ContentCodec {
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
    /// Shared by every connection: bytes of inbound requests being read.
    pub inbound: InboundBudget,
}

/// A node-wide cap on the bytes of inbound content requests being read at
/// once. Each connection may have hundreds of streams open, and a request
/// is read whole before the node can answer `Busy`; without this cap a few
/// peers pushing at once could make the node hold gigabytes.
#[derive(Clone, Debug)]
pub struct InboundBudget {
    left: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl InboundBudget {
    pub fn new(bytes: usize) -> Self {
        InboundBudget {
            left: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(bytes)),
        }
    }

    /// Bytes not reserved right now.
    pub fn available(&self) -> usize {
        self.left.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes `n` bytes until the returned guard drops; an error (the stream
    /// is reset, the peer may retry) if they are not available.
    fn reserve(&self, n: usize) -> io::Result<Reserved> {
        use std::sync::atomic::Ordering;
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(n)
            })
            .map_err(|_| {
                io::Error::other("busy: inbound content requests are at their memory cap")
            })?;
        Ok(Reserved {
            left: self.left.clone(),
            n,
        })
    }
}

struct Reserved {
    left: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    n: usize,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.left
            .fetch_add(self.n, std::sync::atomic::Ordering::AcqRel);
    }
}

impl request_response::Codec for ContentCodec {
    type Protocol = StreamProtocol;
    type Request = ContentRequest;
    type Response = ContentResponse;

    async fn read_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<ContentRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_content_request(io, self.max_request_bytes, &self.inbound).await
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<ContentResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_content_response(io, self.max_response_bytes).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: ContentRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_content_request(io, &request, self.max_request_bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: ContentResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_content_response(io, &response, self.max_response_bytes).await
    }
}

// --- the block fast paths ----------------------------------------------------

/// Borsh tags (variant indices) of `ContentRequest::PutBlock`,
/// `ContentResponse::Block` and `Option::Some`; tests pin them to borsh.
const TAG_PUT_BLOCK: u8 = 0;
const TAG_BLOCK: u8 = 2;
const TAG_SOME: u8 = 1;
/// `PutBlock` up to its sibling count: tag, content id, index, proof index,
/// proof leaf count, number of siblings.
const PUT_HEAD: usize = 1 + 32 + 8 + 8 + 8 + 4;
/// `Block(Some(_))` up to the data: tag, option tag, data length.
const BLOCK_HEAD: usize = 1 + 1 + 4;

/// The frame length of a body of `body_len` bytes, if within `limit`.
fn frame_len(body_len: usize, limit: usize) -> Result<[u8; LEN_BYTES], FrameError> {
    u32::try_from(body_len)
        .ok()
        .filter(|_| body_len <= limit)
        .map(u32::to_le_bytes)
        .ok_or(FrameError::TooLarge {
            size: body_len,
            limit,
        })
}

/// Writes a frame whose body is `head` followed by `data`, without joining
/// them in memory first.
async fn write_split<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    head: &[u8],
    data: &[u8],
    limit: usize,
) -> io::Result<()> {
    let len = frame_len(head.len().saturating_add(data.len()), limit)?;
    let mut first = Vec::with_capacity(LEN_BYTES + head.len());
    first.extend_from_slice(&len);
    first.extend_from_slice(head);
    io.write_all(&first).await?;
    io.write_all(data).await?;
    io.flush().await
}

async fn write_content_request<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    request: &ContentRequest,
    limit: usize,
) -> io::Result<()> {
    let ContentRequest::PutBlock {
        content_id,
        index,
        proof,
        data,
    } = request
    else {
        return write_value(io, request, limit).await;
    };
    let Ok(data_len) = u32::try_from(data.len()) else {
        return Err(FrameError::TooLarge {
            size: data.len(),
            limit,
        }
        .into());
    };
    // Writing into a Vec cannot fail.
    let head = borsh::to_vec(&(TAG_PUT_BLOCK, content_id, index, proof, data_len))
        .map_err(|e| FrameError::Decode(DecodeError::Malformed(e.to_string())))?;
    write_split(io, &head, data, limit).await
}

async fn write_content_response<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    response: &ContentResponse,
    limit: usize,
) -> io::Result<()> {
    let ContentResponse::Block(Some(data)) = response else {
        return write_value(io, response, limit).await;
    };
    let Ok(data_len) = u32::try_from(data.len()) else {
        return Err(FrameError::TooLarge {
            size: data.len(),
            limit,
        }
        .into());
    };
    let head = borsh::to_vec(&(TAG_BLOCK, TAG_SOME, data_len))
        .map_err(|e| FrameError::Decode(DecodeError::Malformed(e.to_string())))?;
    write_split(io, &head, data, limit).await
}

/// The general path after a fast path read `prefix` of a `len`-byte body
/// and found it is not its shape: read the rest, decode with borsh.
async fn finish_general<T: BorshDeserialize, IO: AsyncRead + Unpin>(
    io: &mut IO,
    prefix: Vec<u8>,
    len: usize,
    limit: usize,
) -> io::Result<T> {
    let rest = len.saturating_sub(prefix.len());
    let body = read_body(io, prefix, rest).await?;
    Ok(decode_bounded(&body, limit).map_err(FrameError::from)?)
}

async fn read_content_request<IO: AsyncRead + Unpin>(
    io: &mut IO,
    limit: usize,
    budget: &InboundBudget,
) -> io::Result<ContentRequest> {
    let len = read_len(io, limit).await?;
    // Held while the body arrives; once decoded, the request is served or
    // answered `Busy` and dropped right away.
    let _reserved = budget.reserve(len)?;
    if len < PUT_HEAD {
        return finish_general(io, Vec::new(), len, limit).await;
    }
    let mut head = vec![0u8; PUT_HEAD];
    read_part(io, &mut head).await?;
    let shape = borsh::from_slice::<(u8, Hash, u64, u64, u64, u32)>(&head);
    // The siblings and the data length must fit in what is left.
    let rest = match shape {
        Ok((TAG_PUT_BLOCK, .., siblings)) => (siblings as usize)
            .checked_mul(32)
            .and_then(|b| b.checked_add(4))
            .filter(|b| PUT_HEAD + b <= len),
        _ => None,
    };
    let Some(rest) = rest else {
        return finish_general(io, head, len, limit).await;
    };
    head.resize(PUT_HEAD + rest, 0);
    if let Some(tail) = head.get_mut(PUT_HEAD..) {
        read_part(io, tail).await?;
    }
    // Exactly the borsh encoding of a `PutBlock` up to the data bytes.
    let Ok((_, content_id, index, proof, data_len)) =
        borsh::from_slice::<(u8, Hash, u64, MerkleProof, u32)>(&head)
    else {
        return finish_general(io, head, len, limit).await;
    };
    if head.len().checked_add(data_len as usize) != Some(len) {
        return finish_general(io, head, len, limit).await;
    }
    let data = read_body(io, Vec::new(), data_len as usize).await?;
    Ok(ContentRequest::PutBlock {
        content_id,
        index,
        proof,
        data,
    })
}

async fn read_content_response<IO: AsyncRead + Unpin>(
    io: &mut IO,
    limit: usize,
) -> io::Result<ContentResponse> {
    let len = read_len(io, limit).await?;
    if len < BLOCK_HEAD {
        return finish_general(io, Vec::new(), len, limit).await;
    }
    let mut head = vec![0u8; BLOCK_HEAD];
    read_part(io, &mut head).await?;
    match borsh::from_slice::<(u8, u8, u32)>(&head) {
        Ok((TAG_BLOCK, TAG_SOME, data_len))
            if BLOCK_HEAD.checked_add(data_len as usize) == Some(len) =>
        {
            let data = read_body(io, Vec::new(), data_len as usize).await?;
            Ok(ContentResponse::Block(Some(data)))
        }
        _ => finish_general(io, head, len, limit).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::ChainStatus;
    use crate::sync::tests::header;
    use futures::executor::block_on;
    use futures::io::Cursor;
    use libp2p::request_response::Codec;
    use proptest::prelude::*;
    use umbra_types::{Block, Hash};

    const REQ: usize = 64 * 1024;
    const RESP: usize = 1 << 20;

    fn codec() -> SyncCodec {
        SyncCodec {
            max_request_bytes: REQ,
            max_response_bytes: RESP,
        }
    }

    fn proto() -> StreamProtocol {
        StreamProtocol::new("/umbra/1/sync/1")
    }

    fn frame_of(len: u32, body: &[u8]) -> Vec<u8> {
        let mut v = len.to_le_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn request_and_response_round_trip_through_the_codec() {
        let mut c = codec();
        let req = SyncRequest::Blocks { from: 5, max: 9 };
        let mut wire = Cursor::new(Vec::new());
        block_on(c.write_request(&proto(), &mut wire, req.clone())).unwrap();
        let mut rd = Cursor::new(wire.into_inner());
        assert_eq!(block_on(c.read_request(&proto(), &mut rd)).unwrap(), req);

        let resp = SyncResponse::Blocks(vec![Block {
            header: header(3, vec![7; 100]),
            transactions: vec![],
        }]);
        let mut wire = Cursor::new(Vec::new());
        block_on(c.write_response(&proto(), &mut wire, resp.clone())).unwrap();
        let mut rd = Cursor::new(wire.into_inner());
        assert_eq!(block_on(c.read_response(&proto(), &mut rd)).unwrap(), resp);
    }

    #[test]
    fn oversize_length_is_rejected_before_reading() {
        // Announces 1 byte over the limit and sends nothing after it: the
        // error must be the size, not an EOF from trying to read the body.
        let wire = frame_of((REQ + 1) as u32, &[]);
        let err = block_on(read_frame(&mut Cursor::new(wire), REQ)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    #[test]
    fn oversize_value_is_not_sent() {
        let resp = SyncResponse::Headers((0..100).map(|h| header(h, vec![0; 100])).collect());
        assert!(matches!(
            encode_frame(&resp, 1000),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_frame_is_rejected() {
        let full = encode_frame(&SyncRequest::BlockByHash(Hash([9; 32])), REQ).unwrap();
        for cut in 1..full.len() {
            let res = block_on(codec().read_request(&proto(), &mut Cursor::new(&full[..cut])));
            assert!(res.is_err(), "cut at {cut} was accepted");
        }
        // A short body inside a correct frame is a decode error.
        let body = &full[LEN_BYTES..full.len() - 1];
        assert!(decode_request(body, REQ).is_err());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut body = borsh::to_vec(&SyncRequest::Status).unwrap();
        body.push(0);
        let wire = frame_of(body.len() as u32, &body);
        assert!(block_on(codec().read_request(&proto(), &mut Cursor::new(wire))).is_err());
    }

    mod content {
        use super::*;
        use crate::config::NetworkConfig;
        use crate::content::{ContentRequest, ContentResponse};
        use umbra_types::{merkle_proof, merkle_root, sha256};

        fn codec() -> ContentCodec {
            let cfg =
                NetworkConfig::new(1, [1; 32], "/ip4/127.0.0.1/tcp/0".parse().unwrap(), vec![]);
            ContentCodec {
                max_request_bytes: cfg.max_content_request_bytes,
                max_response_bytes: cfg.max_content_response_bytes,
                inbound: InboundBudget::new(cfg.max_inbound_content_bytes),
            }
        }

        fn proto() -> StreamProtocol {
            StreamProtocol::new("/umbra/1/content/1")
        }

        /// A full-size push: a 256 KiB + 16 B block (an AEAD tag on top of
        /// 256 KiB) with a proof of 32 siblings.
        fn full_put() -> ContentRequest {
            let data = vec![0x5a; 256 * 1024 + 16];
            let mut leaves = vec![sha256(&data)];
            leaves.extend((1u64..1 << 5).map(|i| sha256(&i.to_le_bytes())));
            let mut proof = merkle_proof(&leaves, 0).unwrap();
            proof.siblings.resize(32, Hash([7; 32]));
            ContentRequest::PutBlock {
                content_id: merkle_root(&leaves),
                index: 0,
                proof,
                data,
            }
        }

        #[test]
        fn full_size_block_push_and_answer_round_trip() {
            let mut c = codec();
            let req = full_put();
            let mut wire = Cursor::new(Vec::new());
            block_on(c.write_request(&proto(), &mut wire, req.clone())).unwrap();
            let wire = wire.into_inner();
            // Well under the default limit: 320 KiB would do for blocks.
            assert!(wire.len() < 320 * 1024, "{}", wire.len());
            let back = block_on(c.read_request(&proto(), &mut Cursor::new(wire))).unwrap();
            assert_eq!(back, req);

            let resp = ContentResponse::Block(Some(vec![0xa5; 256 * 1024 + 16]));
            let mut wire = Cursor::new(Vec::new());
            block_on(c.write_response(&proto(), &mut wire, resp.clone())).unwrap();
            let back =
                block_on(c.read_response(&proto(), &mut Cursor::new(wire.into_inner()))).unwrap();
            assert_eq!(back, resp);
        }

        #[test]
        fn inbound_reads_share_one_memory_cap() {
            let mut c = codec();
            let mut wire = Cursor::new(Vec::new());
            block_on(c.write_request(&proto(), &mut wire, full_put())).unwrap();
            let wire = wire.into_inner();
            let frame = wire.len() - LEN_BYTES;
            // Room for one push only: a second connection's codec shares it.
            c.inbound = InboundBudget::new(frame + frame / 2);
            let other = c.clone();
            let held = c.inbound.reserve(frame).unwrap();
            let err = block_on(
                c.clone()
                    .read_request(&proto(), &mut Cursor::new(wire.clone())),
            )
            .unwrap_err();
            assert!(err.to_string().contains("memory cap"), "{err}");
            assert_eq!(other.inbound.available(), frame / 2);
            drop(held);
            let back = block_on(c.read_request(&proto(), &mut Cursor::new(wire))).unwrap();
            assert_eq!(back, full_put());
            // Every reservation, failed or finished, is given back.
            assert_eq!(other.inbound.available(), frame + frame / 2);
        }

        #[test]
        fn largest_manifest_fits_the_default_request_limit() {
            // 65,536 block ids and some header room.
            let req = ContentRequest::PutManifest {
                content_id: Hash([1; 32]),
                manifest: vec![3; 65_536 * 32 + 4096],
            };
            let frame = encode_frame(&req, codec().max_request_bytes).unwrap();
            let back = block_on(codec().read_request(&proto(), &mut Cursor::new(frame))).unwrap();
            assert_eq!(back, req);
        }

        #[test]
        fn oversize_content_frames_are_rejected_before_reading() {
            let mut c = codec();
            c.max_request_bytes = 64 * 1024;
            c.max_response_bytes = 64 * 1024;
            // Announce one byte over, send nothing: the size is the error.
            for read in [true, false] {
                let wire = frame_of(64 * 1024 + 1, &[]);
                let err = if read {
                    block_on(c.read_request(&proto(), &mut Cursor::new(wire))).unwrap_err()
                } else {
                    block_on(c.read_response(&proto(), &mut Cursor::new(wire))).unwrap_err()
                };
                assert_eq!(err.kind(), io::ErrorKind::InvalidData);
                assert!(err.to_string().contains("over the limit"), "{err}");
            }
            // And our own oversize push is refused before anything is written.
            let mut wire = Cursor::new(Vec::new());
            let err = block_on(c.write_request(&proto(), &mut wire, full_put())).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(wire.into_inner().is_empty());
        }

        fn arb_hash() -> impl Strategy<Value = Hash> {
            any::<[u8; 32]>().prop_map(Hash)
        }

        fn arb_request() -> impl Strategy<Value = ContentRequest> {
            let bytes = || proptest::collection::vec(any::<u8>(), 0..600);
            prop_oneof![
                (
                    arb_hash(),
                    any::<u64>(),
                    any::<u64>(),
                    any::<u64>(),
                    proptest::collection::vec(arb_hash(), 0..40),
                    bytes()
                )
                    .prop_map(|(content_id, index, pi, lc, siblings, data)| {
                        ContentRequest::PutBlock {
                            content_id,
                            index,
                            proof: umbra_types::MerkleProof {
                                index: pi,
                                leaf_count: lc,
                                siblings,
                            },
                            data,
                        }
                    }),
                arb_hash().prop_map(|id| ContentRequest::GetBlock { id }),
                proptest::collection::vec(arb_hash(), 0..8)
                    .prop_map(|ids| ContentRequest::HasBlocks { ids }),
                (arb_hash(), bytes()).prop_map(|(content_id, manifest)| {
                    ContentRequest::PutManifest {
                        content_id,
                        manifest,
                    }
                }),
                arb_hash().prop_map(|content_id| ContentRequest::GetManifest { content_id }),
            ]
        }

        fn arb_response() -> impl Strategy<Value = ContentResponse> {
            let bytes = || proptest::collection::vec(any::<u8>(), 0..600);
            prop_oneof![
                Just(ContentResponse::Stored),
                ".{0,40}".prop_map(ContentResponse::Refused),
                proptest::option::of(bytes()).prop_map(ContentResponse::Block),
                proptest::collection::vec(any::<bool>(), 0..40).prop_map(ContentResponse::Has),
                proptest::option::of(bytes()).prop_map(ContentResponse::Manifest),
                Just(ContentResponse::Busy),
            ]
        }

        fn written_request(req: &ContentRequest) -> Vec<u8> {
            let mut wire = Cursor::new(Vec::new());
            block_on(codec().write_request(&proto(), &mut wire, req.clone())).unwrap();
            wire.into_inner()
        }

        fn written_response(resp: &ContentResponse) -> Vec<u8> {
            let mut wire = Cursor::new(Vec::new());
            block_on(codec().write_response(&proto(), &mut wire, resp.clone())).unwrap();
            wire.into_inner()
        }

        #[test]
        fn fast_paths_write_exactly_borsh() {
            let req = full_put();
            assert_eq!(
                written_request(&req),
                encode_frame(&req, usize::MAX).unwrap()
            );
            let resp = ContentResponse::Block(Some(vec![1, 2, 3]));
            assert_eq!(
                written_response(&resp),
                encode_frame(&resp, usize::MAX).unwrap()
            );
        }

        #[test]
        fn near_misses_of_the_fast_shapes_are_decoded_by_borsh_or_refused() {
            let c = codec();
            // A `Block(Some)` whose data length disagrees with the frame.
            let mut body = borsh::to_vec(&ContentResponse::Block(Some(vec![5; 100]))).unwrap();
            body.push(0);
            let wire = frame_of(body.len() as u32, &body);
            let err = block_on(c.clone().read_response(&proto(), &mut Cursor::new(wire)));
            assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidData);
            // A `PutBlock` with a trailing byte, and one cut short.
            let mut body = borsh::to_vec(&full_put()).unwrap();
            body.push(0);
            let wire = frame_of(body.len() as u32, &body);
            let err = block_on(c.clone().read_request(&proto(), &mut Cursor::new(wire)));
            assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidData);
            let body = borsh::to_vec(&full_put()).unwrap();
            let wire = frame_of(body.len() as u32, &body[..body.len() - 10]);
            let err = block_on(c.clone().read_request(&proto(), &mut Cursor::new(wire)));
            assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidData);
            // A sibling count pointing past the frame.
            let mut body = borsh::to_vec(&full_put()).unwrap();
            body[57..61].copy_from_slice(&u32::MAX.to_le_bytes());
            let wire = frame_of(body.len() as u32, &body);
            let err = block_on(c.clone().read_request(&proto(), &mut Cursor::new(wire)));
            assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidData);
        }

        proptest! {
            /// Whatever path a message takes, the wire carries its borsh
            /// encoding and reading it gives the message back.
            #[test]
            fn content_messages_round_trip_as_borsh(req in arb_request(), resp in arb_response()) {
                let wire = written_request(&req);
                prop_assert_eq!(&wire, &encode_frame(&req, usize::MAX).unwrap());
                let back = block_on(codec().read_request(&proto(), &mut Cursor::new(wire))).unwrap();
                prop_assert_eq!(back, req);
                let wire = written_response(&resp);
                prop_assert_eq!(&wire, &encode_frame(&resp, usize::MAX).unwrap());
                let back = block_on(codec().read_response(&proto(), &mut Cursor::new(wire))).unwrap();
                prop_assert_eq!(back, resp);
            }

            /// Valid messages with a byte changed: decode as borsh would, or fail.
            #[test]
            fn mutated_content_messages_decode_as_borsh_would(
                req in arb_request(), resp in arb_response(), at in any::<usize>(), to in any::<u8>()
            ) {
                let mut body = borsh::to_vec(&req).unwrap();
                let i = at % body.len();
                body[i] = to;
                let wire = frame_of(body.len() as u32, &body);
                let fast = block_on(codec().read_request(&proto(), &mut Cursor::new(wire))).ok();
                let slow: Option<ContentRequest> = decode_bounded(&body, usize::MAX).ok();
                prop_assert_eq!(fast, slow);
                let mut body = borsh::to_vec(&resp).unwrap();
                let i = at % body.len();
                body[i] = to;
                let wire = frame_of(body.len() as u32, &body);
                let fast = block_on(codec().read_response(&proto(), &mut Cursor::new(wire))).ok();
                let slow: Option<ContentResponse> = decode_bounded(&body, usize::MAX).ok();
                prop_assert_eq!(fast, slow);
            }
        }

        proptest! {
            /// Arbitrary bytes never panic the content decoders.
            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let _ = block_on(codec().read_request(&proto(), &mut Cursor::new(&bytes)));
                let _ = block_on(codec().read_response(&proto(), &mut Cursor::new(&bytes)));
                let framed = frame_of(bytes.len() as u32, &bytes);
                let _ = block_on(codec().read_request(&proto(), &mut Cursor::new(&framed)));
                let _ = block_on(codec().read_response(&proto(), &mut Cursor::new(&framed)));
            }
        }
    }

    fn arb_request() -> impl Strategy<Value = SyncRequest> {
        prop_oneof![
            Just(SyncRequest::Status),
            (any::<u64>(), any::<u32>()).prop_map(|(from, max)| SyncRequest::Headers { from, max }),
            (any::<u64>(), any::<u32>()).prop_map(|(from, max)| SyncRequest::Blocks { from, max }),
            any::<[u8; 32]>().prop_map(|h| SyncRequest::BlockByHash(Hash(h))),
        ]
    }

    fn arb_response() -> impl Strategy<Value = SyncResponse> {
        let status = (any::<u64>(), any::<[u8; 32]>(), any::<u64>()).prop_map(|(h, x, i)| {
            SyncResponse::Status(ChainStatus {
                head_height: h,
                head_hash: Hash(x),
                irreversible_height: i,
                genesis_hash: Hash([1; 32]),
            })
        });
        let headers = proptest::collection::vec(
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..32)),
            0..8,
        )
        .prop_map(|v| SyncResponse::Headers(v.into_iter().map(|(h, c)| header(h, c)).collect()));
        let block =
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(h, c)| {
                Block {
                    header: header(h, c),
                    transactions: vec![],
                }
            });
        prop_oneof![
            status,
            headers,
            proptest::collection::vec(block.clone(), 0..4).prop_map(SyncResponse::Blocks),
            proptest::option::of(block.prop_map(Box::new)).prop_map(SyncResponse::Block),
            Just(SyncResponse::Busy),
        ]
    }

    proptest! {
        #[test]
        fn request_round_trip(req in arb_request()) {
            let frame = encode_frame(&req, REQ).unwrap();
            let back = block_on(codec().read_request(&proto(), &mut Cursor::new(frame))).unwrap();
            prop_assert_eq!(back, req);
        }

        #[test]
        fn response_round_trip(resp in arb_response()) {
            let frame = encode_frame(&resp, RESP).unwrap();
            prop_assert_eq!(frame.len() - LEN_BYTES, encoded_response_len(&resp));
            let back = block_on(codec().read_response(&proto(), &mut Cursor::new(frame))).unwrap();
            prop_assert_eq!(back, resp);
        }

        /// Fuzz-style: arbitrary bytes, framed or not, never panic the decoders.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_request(&bytes, REQ);
            let _ = decode_response(&bytes, RESP);
            let _ = block_on(codec().read_request(&proto(), &mut Cursor::new(&bytes)));
            let _ = block_on(codec().read_response(&proto(), &mut Cursor::new(&bytes)));
            let framed = frame_of(bytes.len() as u32, &bytes);
            let _ = block_on(codec().read_request(&proto(), &mut Cursor::new(&framed)));
            let _ = block_on(codec().read_response(&proto(), &mut Cursor::new(&framed)));
        }

        /// Valid responses with random bytes flipped: decode or fail, never panic.
        #[test]
        fn mutated_responses_never_panic(resp in arb_response(), at in any::<usize>(), to in any::<u8>()) {
            let mut body = borsh::to_vec(&resp).unwrap();
            if !body.is_empty() {
                let i = at % body.len();
                body[i] = to;
            }
            let _ = decode_response(&body, RESP);
        }
    }
}
