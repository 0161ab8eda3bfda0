//! A sans-IO codec for ICAP (RFC 3507), for both the client and the server role.
//!
//! Bytes go in, events come out; nothing here touches a socket, a clock or a runtime. The `icap`
//! crate drives it over tokio.
//!
//! # Layout
//!
//! - [`decode`]: [`RequestDecoder`] (server role) and [`ResponseDecoder`] (client role) turn a
//!   `BytesMut` into [`RequestEvent`]s and [`ResponseEvent`]s, one message after another.
//! - [`encode`]: every message either role sends; `Encapsulated` is computed, never trusted.
//! - [`message`]: ICAP heads ([`RequestHead`], [`ResponseHead`]), whole heads with their HTTP
//!   parts ([`Request`], [`Response`]), `Allow` and the OPTIONS fields ([`ServiceOptions`]).
//! - [`http`]: the encapsulated HTTP request and response heads, parsed by httparse.
//! - [`encapsulated`]: the `Encapsulated` header and its entities.
//! - [`headers`]: ordered, case-insensitive header fields.
//! - `chunked`: the chunked-body state machine with the `ieof` extension.
//! - [`limits`]: the bounds on everything that is buffered.
//! - [`error`]: [`ProtoError`], which knows the ICAP status to answer with.

pub mod decode;
pub mod encapsulated;
pub mod encode;
pub mod error;
pub mod headers;
pub mod http;
pub mod limits;
pub mod message;

mod chunked;
mod head;

pub use chunked::{encode_chunk, encode_last_chunk};
pub use decode::{RequestDecoder, RequestEvent, ResponseDecoder, ResponseEvent};
pub use encapsulated::{Encapsulated, Section};
pub use encode::{encode_bare_response, encode_continue, encode_request_head, encode_response_head, Parts};
pub use error::{ProtoError, Result};
pub use headers::Headers;
pub use http::{HttpRequestHead, HttpResponseHead};
pub use limits::Limits;
pub use message::{
    reason_phrase, service_of, Allow, Method, Request, RequestHead, Response, ResponseHead, ServiceOptions,
};
