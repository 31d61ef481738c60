//! Wire framing of the sync protocol: a 4-byte little-endian length, then the
//! borsh encoding of one `SyncRequest` or `SyncResponse`.
//!
//! Why not libp2p's CBOR codec: its limits are fixed (1 MiB / 10 MiB) and serde
//! adds a second encoding of consensus types. Here the length is checked
//! against the limit *before* anything is read, the body is read with
//! `take(len)` so memory grows only as bytes actually arrive, and the body is
//! decoded with `umbra_types::decode_bounded` (no trailing bytes, no
//! preallocation from length prefixes).

use crate::sync::{SyncRequest, SyncResponse};
use borsh::BorshSerialize;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use libp2p::request_response;
use std::io;
use umbra_types::{DecodeError, decode_bounded};

/// Length of the frame header.
const LEN_BYTES: usize = 4;

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
    let mut len = [0u8; LEN_BYTES];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > limit {
        return Err(FrameError::TooLarge { size: len, limit }.into());
    }
    let mut body = Vec::new();
    // `take` bounds the read; the buffer grows with what really arrives, so a
    // peer announcing 64 MiB and sending nothing costs nothing.
    io.take(len as u64).read_to_end(&mut body).await?;
    if body.len() != len {
        return Err(FrameError::Truncated {
            expected: len,
            got: body.len(),
        }
        .into());
    }
    Ok(body)
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
