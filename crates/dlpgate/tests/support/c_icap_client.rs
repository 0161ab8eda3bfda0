//! Answers of the real c-icap-client, read from its verbose output (`-v` prints the ICAP
//! answer's head and the HTTP heads it carries).

use std::process::Output;

/// The ICAP status and everything c-icap-client printed.
pub struct Answer {
    pub status: u16,
    pub text: String,
}

impl Answer {
    /// The answer in c-icap-client's output (status 0 when it printed none).
    pub fn of(out: &Output) -> Self {
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        let status = text
            .lines()
            .find_map(|l| {
                l.trim().strip_prefix("ICAP/1.0 ").and_then(|r| r.get(..3)).and_then(|c| c.parse().ok())
            })
            .unwrap_or(0);
        Self { status, text }
    }
}

/// dlpgate's block: a 200 carrying the 403 page and `X-Infection-Found`.
pub fn blocked(answer: &Answer) -> bool {
    answer.status == 200 && answer.text.contains("403 Forbidden") && answer.text.contains("X-Infection-Found")
}
