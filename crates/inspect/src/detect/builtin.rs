//! The catalogue of built-in sensitive information types.

use super::DetectorId;

/// A built-in detector. Its [`name`](Builtin::name) is what policies refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Builtin {
    /// Payment card number: brand prefix, length and Luhn.
    CreditCard,
    /// US social security number with valid ranges.
    UsSsn,
    /// International bank account number: per-country length and mod-97.
    Iban,
    /// PEM private key block (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP).
    PrivateKey,
    /// AWS access key id (AKIA, ASIA, ABIA, ACCA).
    AwsAccessKey,
    /// GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).
    GithubToken,
    /// E-mail address.
    Email,
    /// Phone number.
    Phone,
    /// Slack token (xoxb-, xoxp-, ...), from gitleaks.
    SlackToken,
    /// Stripe live secret or restricted key, from gitleaks.
    StripeKey,
    /// Google API key (AIza...), from gitleaks.
    GoogleApiKey,
    /// GitLab personal access token (glpat-), from gitleaks.
    GitlabToken,
    /// npm access token (npm_), from gitleaks.
    NpmToken,
    /// JSON web token, from gitleaks.
    Jwt,
}

impl Builtin {
    /// Every built-in, in id order.
    pub const ALL: [Builtin; 14] = [
        Self::CreditCard,
        Self::UsSsn,
        Self::Iban,
        Self::PrivateKey,
        Self::AwsAccessKey,
        Self::GithubToken,
        Self::Email,
        Self::Phone,
        Self::SlackToken,
        Self::StripeKey,
        Self::GoogleApiKey,
        Self::GitlabToken,
        Self::NpmToken,
        Self::Jwt,
    ];

    /// The name used in policies and verdicts.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreditCard => "credit_card",
            Self::UsSsn => "us_ssn",
            Self::Iban => "iban",
            Self::PrivateKey => "private_key",
            Self::AwsAccessKey => "aws_access_key",
            Self::GithubToken => "github_token",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::SlackToken => "slack_token",
            Self::StripeKey => "stripe_key",
            Self::GoogleApiKey => "google_api_key",
            Self::GitlabToken => "gitlab_token",
            Self::NpmToken => "npm_token",
            Self::Jwt => "jwt",
        }
    }

    /// Looks a built-in up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    pub(crate) fn id(self) -> DetectorId {
        DetectorId(self as u16)
    }

    /// Default context words; a policy may add more.
    pub fn hotwords(self) -> &'static [&'static str] {
        match self {
            Self::CreditCard => &[
                "credit card",
                "card number",
                "card no",
                "visa",
                "mastercard",
                "amex",
                "ccn",
                "cvv",
                "payment",
            ],
            Self::UsSsn => &["ssn", "ssn#", "ss#", "social security", "social sec", "taxpayer id"],
            Self::Iban => &["iban", "bank account", "account number"],
            Self::Phone => &["phone", "tel", "telephone", "mobile", "cell", "call", "fax"],
            Self::Jwt => &["token", "bearer", "authorization", "jwt"],
            _ => &[],
        }
    }
}
