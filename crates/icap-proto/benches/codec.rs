//! Decoder throughput on a REQMOD with preview and a RESPMOD of 64 KiB.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use icap_proto::{Limits, RequestDecoder, RequestEvent};

fn reqmod(body: usize) -> Vec<u8> {
    let http = b"POST http://x/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n";
    let mut msg = format!(
        "REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\nEncapsulated: req-hdr=0, req-body={}\r\n\r\n",
        http.len()
    )
    .into_bytes();
    msg.extend_from_slice(http);
    let data = vec![b'a'; body];
    for chunk in data.chunks(8192) {
        msg.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        msg.extend_from_slice(chunk);
        msg.extend_from_slice(b"\r\n");
    }
    msg.extend_from_slice(b"0\r\n\r\n");
    msg
}

fn decode_all(input: &[u8]) -> usize {
    let mut buf = BytesMut::from(input);
    let mut dec = RequestDecoder::new(Limits::default());
    let mut n = 0;
    while let Ok(Some(ev)) = dec.decode(&mut buf) {
        n += 1;
        if matches!(ev, RequestEvent::End { .. }) {
            break;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_reqmod");
    for size in [64usize, 5632, 65536] {
        let msg = reqmod(size);
        group.throughput(Throughput::Bytes(msg.len() as u64));
        group.bench_function(format!("{size}B"), |b| b.iter(|| decode_all(std::hint::black_box(&msg))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
