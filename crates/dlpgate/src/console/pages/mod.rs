//! One module per page. Every value rendered goes through maud, which escapes it.

pub mod admin;
pub mod certificates;
pub mod connectors;
pub mod dashboard;
pub mod dashboard_state;
pub mod export;
pub mod incident;
pub mod incidents;
pub mod layout;
pub mod login;
pub mod policy;
pub mod policy_edit;
pub mod scan_jobs;
pub mod tester;
