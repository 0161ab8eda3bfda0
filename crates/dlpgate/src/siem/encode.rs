//! A batch of incidents as one sink's payload: syslog messages (one per incident) or one HTTP
//! body (Splunk HEC events, or a JSON array for a webhook).

use serde_json::{json, Value};

use super::target::{Receiver, SiemFormat};
use crate::store::{to_millis, Incident};

/// What a batch becomes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// One RFC 5424 message per incident (unframed).
    Syslog(Vec<String>),
    /// One HTTP request body (JSON).
    Http(Vec<u8>),
}

/// Encodes `batch` for `receiver` in `format`; `host` is this machine's name.
pub fn encode(batch: &[Incident], receiver: &Receiver, format: SiemFormat, host: &str) -> Payload {
    match receiver {
        Receiver::SplunkHec(_) => {
            let mut body = Vec::new();
            for i in batch {
                let event = hec_event(i, format, host);
                // Splunk HEC takes several events in one body, one JSON object after another.
                body.extend_from_slice(event.to_string().as_bytes());
                body.push(b'\n');
            }
            Payload::Http(body)
        }
        Receiver::Webhook(_) => {
            let events: Vec<Value> = batch.iter().map(|i| event(i, format, host)).collect();
            Payload::Http(Value::Array(events).to_string().into_bytes())
        }
        _ => Payload::Syslog(batch.iter().map(|i| syslog_message(i, format, host)).collect()),
    }
}

/// One incident as a syslog message in `format`.
pub fn syslog_message(i: &Incident, format: SiemFormat, host: &str) -> String {
    match format {
        SiemFormat::Rfc5424 => super::rfc5424(i, host),
        SiemFormat::Cef => super::syslog::rfc5424_carrying(i, host, &super::cef(i)),
        SiemFormat::Json => super::syslog::rfc5424_carrying(i, host, &super::ecs(i).to_string()),
    }
}

/// One incident as a JSON value: the ECS document, or the CEF or RFC 5424 line as a string.
fn event(i: &Incident, format: SiemFormat, host: &str) -> Value {
    match format {
        SiemFormat::Json => super::ecs(i),
        SiemFormat::Cef => Value::String(super::cef(i)),
        SiemFormat::Rfc5424 => Value::String(super::rfc5424(i, host)),
    }
}

/// A Splunk HEC event: the incident's time in seconds, host, source and sourcetype, and the
/// event itself.
fn hec_event(i: &Incident, format: SiemFormat, host: &str) -> Value {
    let millis = to_millis(i.time);
    json!({
        "time": format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000)),
        "host": host,
        "source": "dlpgate",
        "sourcetype": match format {
            SiemFormat::Json => "dlpgate:incident:ecs",
            SiemFormat::Cef => "dlpgate:incident:cef",
            SiemFormat::Rfc5424 => "dlpgate:incident:rfc5424",
        },
        "event": event(i, format, host),
    })
}

/// RFC 6587 octet counting (also RFC 5425's framing): `LEN SP MSG`.
pub fn octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(url: &str) -> Receiver {
        Receiver::parse(url).unwrap()
    }

    #[test]
    fn each_sink_gets_its_shape() {
        let i = crate::siem::sample::incident();
        let batch = [i.clone(), i.clone()];
        let Payload::Http(hec) =
            encode(&batch, &receiver("https://s/services/collector/event"), SiemFormat::Json, "n1")
        else {
            panic!()
        };
        let events: Vec<Value> =
            serde_json::Deserializer::from_slice(&hec).into_iter().map(Result::unwrap).collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["time"], "1765000000.123");
        assert_eq!(events[0]["event"]["event"]["id"], i.id);
        let Payload::Http(hook) = encode(&batch, &receiver("https://h/x"), SiemFormat::Cef, "n1") else {
            panic!()
        };
        let hook: Vec<String> = serde_json::from_slice(&hook).unwrap();
        assert!(hook[0].starts_with("CEF:0|dlpgate|"), "{hook:?}");
        let Payload::Syslog(lines) = encode(&batch, &receiver("syslog+tcp://s:1"), SiemFormat::Cef, "n1")
        else {
            panic!()
        };
        assert!(
            lines[0].starts_with("<108>1 2025-12-06T05:46:40.123Z n1 dlpgate - incident - CEF:0|"),
            "{}",
            lines[0]
        );
        assert!(!lines[0].contains('\n'));
        // The length counts bytes (é is two), not characters.
        assert_eq!(octet_counted("<13>1 - - - - - é"), "18 <13>1 - - - - - é");
    }
}
