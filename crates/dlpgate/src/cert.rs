//! `dlpgate cert`: keys, self-signed and CA-issued certificates, combined PEM files for
//! stunnel, and a readable summary with fingerprints. It replaces the seed's
//! `openssl genrsa`, `openssl req -new -x509` and `cat key.pem cert.pem` steps, and writes keys
//! readable by their owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Default validity of a new certificate, in days: three years, as in the seed's openssl step.
pub const DEFAULT_DAYS: u32 = 1095;
/// Default validity of a new CA, in days.
pub const DEFAULT_CA_DAYS: u32 = 3650;

/// The `cert` subcommands.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Everything icaps needs, in one step: a CA, a server and a client certificate issued by
    /// it, and a combined key+cert PEM for stunnel users.
    Init(InitArgs),
    /// A private key and a self-signed certificate.
    New(NewArgs),
    /// A certificate authority (key and self-signed CA certificate).
    Ca(CaArgs),
    /// A server or client certificate issued by a CA made with `cert ca`.
    Issue(IssueArgs),
    /// Subject, SANs, validity and SHA-256 fingerprints of certificates in PEM files.
    Show(ShowArgs),
}

/// Key algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyType {
    /// ECDSA on P-256 (fast, small).
    EcdsaP256,
    /// RSA 2048 bits (what the seed's `openssl genrsa` makes).
    Rsa2048,
    /// RSA 3072 bits.
    Rsa3072,
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Usage {
    /// TLS server authentication.
    Server,
    /// TLS client authentication.
    Client,
}

/// Options shared by the commands that make a key and certificate.
#[derive(Debug, Clone, Args)]
pub struct Subject {
    /// Common name.
    #[arg(long)]
    pub cn: String,
    /// Subject alternative names: DNS names or IP addresses (repeat or comma-separate).
    #[arg(long = "san", value_delimiter = ',')]
    pub sans: Vec<String>,
    /// Organisation.
    #[arg(long)]
    pub org: Option<String>,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "ecdsa-p256")]
    pub key_type: KeyType,
    /// Validity in days.
    #[arg(long, default_value_t = DEFAULT_DAYS)]
    pub days: u32,
}

/// `cert new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(flatten)]
    pub subject: Subject,
    /// What the certificate is for.
    #[arg(long, value_enum, default_value = "server")]
    pub usage: Usage,
    #[command(flatten)]
    pub output: Output,
}

/// Where a new key and certificate go.
#[derive(Debug, Clone, Args)]
pub struct Output {
    /// Certificate output file.
    #[arg(long)]
    pub cert: PathBuf,
    /// Key output file (written with mode 0600).
    #[arg(long)]
    pub key: PathBuf,
    /// Also write key and certificate in one PEM (mode 0600), as stunnel's `cert =` expects.
    #[arg(long)]
    pub combined: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// `cert ca`.
#[derive(Debug, Args)]
pub struct CaArgs {
    /// Common name.
    #[arg(long, default_value = "dlpgate CA")]
    pub cn: String,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "ecdsa-p256")]
    pub key_type: KeyType,
    /// Validity in days.
    #[arg(long, default_value_t = DEFAULT_CA_DAYS)]
    pub days: u32,
    /// CA certificate output file.
    #[arg(long)]
    pub cert: PathBuf,
    /// CA key output file (mode 0600).
    #[arg(long)]
    pub key: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// `cert issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub subject: Subject,
    /// What the certificate is for.
    #[arg(long, value_enum)]
    pub usage: Usage,
    /// The CA certificate.
    #[arg(long)]
    pub ca_cert: PathBuf,
    /// The CA key.
    #[arg(long)]
    pub ca_key: PathBuf,
    #[command(flatten)]
    pub output: Output,
}

/// `cert init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write into (created with mode 0700).
    #[arg(long, default_value = "./dlpgate-certs")]
    pub dir: PathBuf,
    /// Names the server is reached by (DNS names or IPs); `localhost` and 127.0.0.1 are always
    /// included.
    #[arg(long = "san", value_delimiter = ',')]
    pub sans: Vec<String>,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "ecdsa-p256")]
    pub key_type: KeyType,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// `cert show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// PEM files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs a `cert` subcommand.
pub fn run(cmd: CertCommand) -> anyhow::Result<()> {
    match cmd {
        CertCommand::New(args) => new(&args),
        CertCommand::Ca(args) => ca(&args),
        CertCommand::Issue(args) => issue(&args),
        CertCommand::Init(args) => init(&args),
        CertCommand::Show(args) => show(&args),
    }
}

fn new(args: &NewArgs) -> anyhow::Result<()> {
    let key = generate_key(args.subject.key_type)?;
    let params = leaf_params(&args.subject, args.usage)?;
    let cert = params.self_signed(&key).context("signing the certificate")?;
    write_output(&cert.pem(), &key.serialize_pem(), &args.output)
}

fn ca(args: &CaArgs) -> anyhow::Result<()> {
    let key = generate_key(args.key_type)?;
    let cert = ca_params(&args.cn, args.days)?.self_signed(&key).context("signing the CA certificate")?;
    write_pair(&cert.pem(), &key.serialize_pem(), &args.cert, &args.key, None, args.force)?;
    print_summary(&args.cert)
}

fn issue(args: &IssueArgs) -> anyhow::Result<()> {
    let ca_key_pem = read_key_pem(&args.ca_key)?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).context("reading the CA key")?;
    let ca_pem = std::fs::read_to_string(&args.ca_cert)
        .with_context(|| format!("reading the CA certificate {}", args.ca_cert.display()))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).context("reading the CA certificate")?;
    let key = generate_key(args.subject.key_type)?;
    let cert = leaf_params(&args.subject, args.usage)?
        .signed_by(&key, &issuer)
        .context("issuing the certificate")?;
    write_output(&cert.pem(), &key.serialize_pem(), &args.output)
}

fn write_output(cert_pem: &str, key_pem: &str, out: &Output) -> anyhow::Result<()> {
    write_pair(cert_pem, key_pem, &out.cert, &out.key, out.combined.as_deref(), out.force)?;
    print_summary(&out.cert)
}

fn init(args: &InitArgs) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let path = |name: &str| args.dir.join(name);
    let ca_key = generate_key(args.key_type)?;
    let ca_cert = ca_params("dlpgate CA", DEFAULT_CA_DAYS)?.self_signed(&ca_key)?;
    write_pair(&ca_cert.pem(), &ca_key.serialize_pem(), &path("ca.crt"), &path("ca.key"), None, args.force)?;
    let issuer = Issuer::new(ca_params("dlpgate CA", DEFAULT_CA_DAYS)?, ca_key);
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            sans.push(host.to_string());
        }
    }
    sans.extend(args.sans.iter().cloned());
    sans.dedup();
    let server = Subject {
        cn: sans.last().cloned().unwrap_or_else(|| "localhost".to_string()),
        sans,
        org: Some("dlpgate".to_string()),
        key_type: args.key_type,
        days: DEFAULT_DAYS,
    };
    let key = generate_key(args.key_type)?;
    let cert = leaf_params(&server, Usage::Server)?.signed_by(&key, &issuer)?;
    write_pair(
        &cert.pem(),
        &key.serialize_pem(),
        &path("server.crt"),
        &path("server.key"),
        Some(&path("server-combined.pem")),
        args.force,
    )?;
    let client = Subject {
        cn: "dlpgate client".to_string(),
        sans: Vec::new(),
        org: Some("dlpgate".to_string()),
        key_type: args.key_type,
        days: DEFAULT_DAYS,
    };
    let key = generate_key(args.key_type)?;
    let cert = leaf_params(&client, Usage::Client)?.signed_by(&key, &issuer)?;
    write_pair(
        &cert.pem(),
        &key.serialize_pem(),
        &path("client.crt"),
        &path("client.key"),
        Some(&path("client-combined.pem")),
        args.force,
    )?;
    let d = args.dir.display();
    println!("wrote {d}/{{ca,server,client}}.{{crt,key}}, {d}/server-combined.pem, {d}/client-combined.pem");
    println!("serve icaps:  dlpgate serve --cert {d}/server.crt --key {d}/server.key --client-ca {d}/ca.crt");
    println!("client side:  trust {d}/ca.crt, present {d}/client.crt with {d}/client.key");
    Ok(())
}

fn show(args: &ShowArgs) -> anyhow::Result<()> {
    for file in &args.files {
        print_summary(file)?;
    }
    Ok(())
}

/// Prints what `cert show` prints for every certificate in `path`.
fn print_summary(path: &Path) -> anyhow::Result<()> {
    let certs = icap::tls::load_certs(path)?;
    for (i, cert) in certs.iter().enumerate() {
        let info = icap::tls::describe_cert(cert).map_err(anyhow::Error::msg)?;
        println!("{}{}", path.display(), if certs.len() > 1 { format!(" [{i}]") } else { String::new() });
        println!("  subject:     {}", info.subject);
        println!("  issuer:      {}", info.issuer);
        println!(
            "  SANs:        {}",
            if info.sans.is_empty() { "(none)".to_string() } else { info.sans.join(", ") }
        );
        println!("  not before:  {}", format_time(info.not_before));
        println!("  not after:   {} ({} days left)", format_time(info.not_after), info.days_left());
        println!("  CA:          {}", if info.is_ca { "yes" } else { "no" });
        println!("  SPKI SHA-256: {}", info.spki_sha256);
        println!("  cert SHA-256: {}", info.cert_sha256);
    }
    Ok(())
}

fn format_time(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .map(|s| httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)))
        .unwrap_or_else(|| unix.to_string())
}

fn generate_key(kind: KeyType) -> anyhow::Result<KeyPair> {
    match kind {
        KeyType::EcdsaP256 => Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?),
        #[cfg(not(feature = "rsa-keys"))]
        KeyType::Rsa2048 | KeyType::Rsa3072 => {
            anyhow::bail!("this dlpgate was built without RSA key generation (the `rsa-keys` feature)")
        }
        #[cfg(feature = "rsa-keys")]
        KeyType::Rsa2048 | KeyType::Rsa3072 => {
            // ring cannot generate RSA keys: AWS-LC makes the key, ring signs with it.
            use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
            use aws_lc_rs::rsa::KeySize;
            let size = if kind == KeyType::Rsa2048 { KeySize::Rsa2048 } else { KeySize::Rsa3072 };
            let key = aws_lc_rs::rsa::KeyPair::generate(size)
                .map_err(|_| anyhow::anyhow!("generating an RSA key failed"))?;
            let der: Pkcs8V1Der<'static> =
                key.as_der().map_err(|_| anyhow::anyhow!("encoding the RSA key failed"))?;
            let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_ref());
            Ok(KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)?)
        }
    }
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    // A little slack for clocks that run behind.
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(i64::from(days));
}

fn leaf_params(subject: &Subject, usage: Usage) -> anyhow::Result<CertificateParams> {
    let mut params =
        CertificateParams::new(subject.sans.clone()).context("invalid subject alternative name")?;
    params.distinguished_name.push(DnType::CommonName, subject.cn.clone());
    if let Some(org) = &subject.org {
        params.distinguished_name.push(DnType::OrganizationName, org.clone());
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![match usage {
        Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, subject.days);
    Ok(params)
}

fn ca_params(cn: &str, days: u32) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn.to_string());
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut params, days);
    Ok(params)
}

fn read_key_pem(path: &Path) -> anyhow::Result<String> {
    icap::tls::check_key_permissions(path)?;
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes the certificate (0644), the key (0600) and the optional combined PEM (0600), each
/// as [`write_file`] does.
fn write_pair(
    cert_pem: &str,
    key_pem: &str,
    cert: &Path,
    key: &Path,
    combined: Option<&Path>,
    force: bool,
) -> anyhow::Result<()> {
    if !force {
        // Refused before anything is written (write_file checks again, atomically).
        for path in [Some(key), Some(cert), combined].into_iter().flatten() {
            if std::fs::symlink_metadata(path).is_ok() {
                bail!("{} exists; pass --force to overwrite it", path.display());
            }
        }
    }
    write_file(key, key_pem.as_bytes(), 0o600, force)?;
    write_file(cert, cert_pem.as_bytes(), 0o644, force)?;
    if let Some(combined) = combined {
        write_file(combined, format!("{key_pem}{cert_pem}").as_bytes(), 0o600, force)?;
    }
    Ok(())
}

/// Writes `data` to `path` with `mode`, never through a symbolic link and never over an
/// existing file unless `force`: the data goes to a new temporary file beside it (created
/// `O_EXCL | O_NOFOLLOW`, synced), which then takes the name with
/// `renameat2(RENAME_NOREPLACE)`, or with `--force` trades places with what holds the name
/// (`RENAME_EXCHANGE`: a link there is replaced as a link, its target untouched) before that
/// is removed.
fn write_file(path: &Path, data: &[u8], mode: u32, force: bool) -> anyhow::Result<()> {
    use crate::fsat::{create_excl_at, exchange, is_exists, rename_noreplace, Stat};
    let name = path.file_name().with_context(|| format!("{} names no file", path.display()))?;
    let dir_path = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = rustix::fs::open(
        dir_path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .with_context(|| format!("opening the directory {}", dir_path.display()))?;
    let mut temp = None;
    for n in 0..100u32 {
        let mut candidate = std::ffi::OsString::from(".");
        candidate.push(name);
        candidate.push(format!(".tmp-{}-{n}", std::process::id()));
        match create_excl_at(&dir, &candidate, mode) {
            Ok(file) => {
                temp = Some((file, candidate));
                break;
            }
            Err(e) if is_exists(&e) => {}
            Err(e) => return Err(e).with_context(|| format!("writing in {}", dir_path.display())),
        }
    }
    let Some((mut file, temp_name)) = temp else { bail!("no free temporary name in {}", dir_path.display()) };
    let remove_temp = |dir: &std::os::fd::OwnedFd| {
        let _ = rustix::fs::unlinkat(dir, temp_name.as_os_str(), rustix::fs::AtFlags::empty());
    };
    if let Err(e) = file.write_all(data).and_then(|()| file.sync_all()) {
        remove_temp(&dir);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    match rename_noreplace(&dir, &temp_name, &dir, name) {
        Ok(()) => {}
        Err(e) if is_exists(&e) && !force => {
            remove_temp(&dir);
            bail!("{} exists; pass --force to overwrite it", path.display());
        }
        Err(e) if is_exists(&e) => {
            if let Err(e) = exchange(&dir, &temp_name, &dir, name) {
                remove_temp(&dir);
                return Err(e).with_context(|| format!("replacing {}", path.display()));
            }
            // The temporary name now holds what was there: a file or a link is removed; a
            // directory is put back.
            if Stat::at(&dir, &temp_name).is_ok_and(|s| s.kind == rustix::fs::FileType::Directory) {
                let _ = exchange(&dir, &temp_name, &dir, name);
                remove_temp(&dir);
                bail!("{} is a directory", path.display());
            }
            remove_temp(&dir);
        }
        Err(e) => {
            remove_temp(&dir);
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
    }
    rustix::fs::fsync(&dir).with_context(|| format!("syncing {}", dir_path.display()))?;
    Ok(())
}
