//! Property: whatever message is encoded, decoding gives it back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use icap_proto::{
    encode_chunk, encode_last_chunk, encode_request_head, encode_response_head, Headers, HttpRequestHead,
    HttpResponseHead, Limits, Method, Parts, RequestDecoder, RequestEvent, RequestHead, ResponseDecoder,
    ResponseEvent, ResponseHead, Section,
};
use proptest::prelude::*;

fn header_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("X-[A-Za-z]{1,12}", "[ -~&&[^ ]]([ -~]{0,30}[!-~])?"), 0..6)
}

fn to_headers(list: &[(String, String)]) -> Headers {
    let mut h = Headers::new();
    for (n, v) in list {
        h.append(n.clone(), v.clone());
    }
    h
}

prop_compose! {
    fn request_strategy()(
        method in prop_oneof![Just(Method::Reqmod), Just(Method::Respmod), Just(Method::Options)],
        service in "[a-z]{1,10}",
        icap_headers in header_strategy(),
        http_headers in header_strategy(),
        body in prop::option::of(prop::collection::vec(any::<u8>(), 0..3000)),
        chunk in 1usize..700,
        preview in prop::option::of(0usize..4000),
    ) -> (Method, String, Vec<(String, String)>, Vec<(String, String)>, Option<Vec<u8>>, usize, Option<usize>) {
        (method, service, icap_headers, http_headers, body, chunk, preview)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn encoded_requests_decode_to_the_same_message(
        (method, service, icap_headers, http_headers, body, chunk, preview) in request_strategy(),
        split in 1usize..97,
    ) {
        let mut head = RequestHead::new(method, format!("icap://127.0.0.1:1344/{service}"));
        head.headers = to_headers(&icap_headers);
        let http_req = HttpRequestHead::new("POST", "http://example.test/upload", to_headers(&http_headers));
        let http_res = HttpResponseHead::new(200, "OK", to_headers(&http_headers));
        let body = if method == Method::Options { None } else { body };
        // A preview sends at most `preview` bytes, then `0; ieof` if that was all, else `0`.
        let preview = body.as_ref().and(preview);
        if let Some(p) = preview {
            head.headers.set("Preview", p.to_string());
        }
        let parts = match method {
            Method::Options => Parts::NONE,
            Method::Reqmod => Parts {
                http_request: Some(&http_req),
                http_response: None,
                body: if body.is_some() { Section::ReqBody } else { Section::NullBody },
            },
            Method::Respmod => Parts {
                http_request: Some(&http_req),
                http_response: Some(&http_res),
                body: if body.is_some() { Section::ResBody } else { Section::NullBody },
            },
        };
        let mut wire = BytesMut::new();
        encode_request_head(&head, parts, &mut wire);
        if let Some(body) = &body {
            let (first, rest) = body.split_at(preview.unwrap_or(0).min(body.len()));
            let first = if preview.is_some() { first } else { &body[..] };
            for c in first.chunks(chunk) {
                encode_chunk(c, &mut wire);
            }
            if preview.is_some() {
                let whole = rest.is_empty();
                encode_last_chunk(whole, &mut wire);
                if !whole {
                    for c in rest.chunks(chunk) {
                        encode_chunk(c, &mut wire);
                    }
                    encode_last_chunk(false, &mut wire);
                }
            } else {
                encode_last_chunk(false, &mut wire);
            }
        }

        let mut dec = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut got_body = Vec::new();
        let mut got_head = None;
        let mut ended = false;
        for piece in wire.chunks(split) {
            buf.extend_from_slice(piece);
            while let Some(ev) = dec.decode(&mut buf).unwrap() {
                match ev {
                    RequestEvent::Head(r) => got_head = Some(r),
                    RequestEvent::Data(d) => got_body.extend_from_slice(&d),
                    RequestEvent::PreviewEnd => dec.continue_after_preview(),
                    RequestEvent::End { .. } => ended = true,
                }
            }
        }
        prop_assert!(ended);
        prop_assert!(buf.is_empty());
        let got = got_head.unwrap();
        prop_assert_eq!(got.head.method, method);
        prop_assert_eq!(got.head.service(), service.as_str());
        for (n, v) in &icap_headers {
            prop_assert!(got.head.headers.get_all(n).any(|x| x == v.as_bytes()));
        }
        prop_assert_eq!(got.preview, preview);
        if method != Method::Options {
            let req = got.http_request.as_ref().unwrap();
            prop_assert_eq!(req.target(), "http://example.test/upload");
            prop_assert_eq!(req.headers().len(), http_headers.len());
        }
        prop_assert_eq!(got.http_response.is_some(), method == Method::Respmod);
        prop_assert_eq!(got_body, body.unwrap_or_default());
    }

    #[test]
    fn encoded_responses_decode_to_the_same_message(
        status in prop_oneof![Just(200u16), Just(204), Just(400), Just(500)],
        icap_headers in header_strategy(),
        body in prop::collection::vec(any::<u8>(), 0..3000),
        chunk in 1usize..700,
        split in 1usize..97,
    ) {
        let mut head = ResponseHead::new(status);
        head.headers = to_headers(&icap_headers);
        let page = HttpResponseHead::new(403, "Forbidden", Headers::new());
        let with_body = status == 200;
        let parts = if with_body {
            Parts { http_request: None, http_response: Some(&page), body: Section::ResBody }
        } else {
            Parts::NONE
        };
        let mut wire = BytesMut::new();
        encode_response_head(&head, parts, &mut wire);
        if with_body {
            for c in body.chunks(chunk) {
                encode_chunk(c, &mut wire);
            }
            encode_last_chunk(false, &mut wire);
        }
        let mut dec = ResponseDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let (mut got_status, mut got_body, mut ended) = (0, Vec::new(), false);
        for piece in wire.chunks(split) {
            buf.extend_from_slice(piece);
            while let Some(ev) = dec.decode(&mut buf).unwrap() {
                match ev {
                    ResponseEvent::Head(r) => {
                        got_status = r.head.status;
                        prop_assert_eq!(r.http_response.is_some(), with_body);
                    }
                    ResponseEvent::Data(d) => got_body.extend_from_slice(&d),
                    ResponseEvent::End { .. } => ended = true,
                }
            }
        }
        prop_assert!(ended);
        prop_assert_eq!(got_status, status);
        prop_assert_eq!(got_body, if with_body { body } else { Vec::new() });
    }
}
