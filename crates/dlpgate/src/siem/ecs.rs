//! JSON with Elastic Common Schema field names (ECS 8), one object per incident. What ECS has
//! no field for goes under `dlpgate.*`. docs/INCIDENTS.md has the mapping table.

use serde_json::{json, Map, Value};

use crate::store::{format_time, Incident};

/// One incident as an ECS document.
pub fn ecs(i: &Incident) -> Value {
    let mut doc = json!({
        "@timestamp": format_time(i.time),
        "ecs": { "version": "8.11.0" },
        "message": message(i),
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection"],
            "type": [if i.action == "block" { "denied" } else { "info" }],
            "action": i.action,
            // The decision was made and applied; could-not-scan is `unknown`.
            "outcome": if i.reason.is_some() { "unknown" } else { "success" },
            "severity": super::severity(i),
            "id": i.id,
            "dataset": "dlpgate.incident",
            "module": "dlpgate",
            "reason": i.reason,
        },
        "rule": { "name": i.rules },
        "file": {
            "name": i.file_name,
            "size": i.size,
            "mime_type": i.content_type,
            "hash": { "sha256": i.sha256 },
        },
        "user": { "name": i.user, "group": { "name": i.groups } },
        "source": { "ip": super::source_ip(i).map(|a| a.to_string()), "address": i.client_addr },
        "url": { "full": i.url },
        "tls": { "client": { "subject": i.tls_subject } },
        "observer": {
            "vendor": "dlpgate",
            "product": "dlpgate",
            "version": super::VERSION,
            "type": "dlp",
        },
        "dlpgate": {
            "service": i.service,
            "icap_method": i.method,
            "policy_version": i.policy_version,
            "counts": i.counts,
            "evidence": i.evidence,
        },
    });
    prune(&mut doc);
    doc
}

/// A one-line summary for `message`.
fn message(i: &Incident) -> String {
    let what = i.file_name.as_deref().or(i.url.as_deref()).unwrap_or("a request");
    if i.rules.is_empty() {
        format!("dlpgate {} {what}", super::outcome(i))
    } else {
        format!("dlpgate {} {what}: {}", super::outcome(i), i.rules.join(", "))
    }
}

/// Drops nulls, empty arrays and objects left empty, as ECS documents leave unknown fields out.
fn prune(v: &mut Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => {
            let keep: Map<String, Value> = std::mem::take(o)
                .into_iter()
                .filter_map(|(k, mut x)| prune(&mut x).then_some((k, x)))
                .collect();
            *o = keep;
            !o.is_empty()
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_have_their_ecs_names() {
        let mut i = crate::siem::sample::incident();
        let d = ecs(&i);
        assert_eq!(d["event"]["kind"], "alert");
        assert_eq!(d["event"]["action"], "block");
        assert_eq!(d["event"]["outcome"], "success");
        assert_eq!(d["event"]["severity"], 8);
        assert_eq!(d["rule"]["name"], json!(["credit-card", "us-ssn"]));
        assert_eq!(d["file"]["name"], i.file_name.clone().unwrap());
        assert_eq!(d["file"]["size"], 4096);
        assert_eq!(d["file"]["hash"]["sha256"], i.sha256);
        assert_eq!(d["user"]["name"], "jane=doe\\ops");
        assert_eq!(d["source"]["ip"], "192.0.2.7");
        assert_eq!(d["url"]["full"], i.url.clone().unwrap());
        assert_eq!(d["observer"]["product"], "dlpgate");
        assert_eq!(d["@timestamp"], "2025-12-06T05:46:40.123Z");
        assert_eq!(d["dlpgate"]["evidence"][0]["masked"], "4111********1111");
        // Unknown fields are left out, not null.
        i.user = None;
        i.groups.clear();
        i.reason = Some("encrypted".into());
        let d = ecs(&i);
        assert!(d.get("user").is_none(), "{d}");
        assert_eq!(d["event"]["outcome"], "unknown");
        assert!(!d.to_string().contains("null"), "{d}");
    }
}
