//! The district's certificate authority (rcgen): a CA, and certificates whose URI SAN names a node code
//! and a role (`gridfed://<code>/<replica|operator>`), which servers will authorize on.
//!
//! ```text
//! DIR/ca.pem  DIR/ca.key                       gridnode certs init-ca --out DIR
//! OUT/<code>-<role>[-<name>].pem / .key        gridnode certs issue --ca DIR --code CODE --role ROLE --out OUT
//! ```
//! Private keys are written with mode 0600; nothing is overwritten.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use federation::identity::Identity;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// Why a certificate could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} already exists; refusing to overwrite it")]
    Exists { path: String },
    #[error("certificate generation: {source}")]
    Rcgen {
        #[from]
        source: rcgen::Error,
    },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CertError + '_ {
    move |source| CertError::Io { path: path.display().to_string(), source }
}

/// Writes `text` to a new file (never overwriting), private to the owner if `secret`.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), CertError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => CertError::Exists { path: path.display().to_string() },
        _ => CertError::Io { path: path.display().to_string(), source: e },
    })?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(io(path))
}

/// The files of a CA.
#[derive(Debug)]
pub struct CaFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CaFiles {
    pub fn in_dir(dir: &Path) -> CaFiles {
        CaFiles { cert: dir.join("ca.pem"), key: dir.join("ca.key") }
    }
}

/// Creates the district's CA in `dir` (valid for ten years).
pub fn init_ca(dir: &Path, name: &str) -> Result<CaFiles, CertError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files = CaFiles::in_dir(dir);
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("gridfed CA {name}"));
    dn.push(DnType::OrganizationName, "gridfed");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = OffsetDateTime::now_utc() - Duration::minutes(5);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    write_new(&files.key, &key.serialize_pem(), true)?;
    write_new(&files.cert, &cert.pem(), false)?;
    Ok(files)
}

/// What to issue.
pub struct Request<'a> {
    pub identity: &'a Identity,
    /// A person's or tool's name for operators, a replica number for replicas (goes into the file name).
    pub name: Option<&'a str>,
    /// Addresses or host names the certificate is valid for (replicas: where they listen).
    pub hosts: &'a [String],
    pub days: i64,
}

/// The files of an issued certificate.
#[derive(Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Issues a certificate for `req.identity`, signed by the CA in `ca_dir`, into `out`.
pub fn issue(ca_dir: &Path, req: &Request<'_>, out: &Path) -> Result<Issued, CertError> {
    if !(1..=3650).contains(&req.days) {
        return Err(CertError::Invalid { field: "days".into(), message: "must be 1 to 3650".into() });
    }
    if let Some(n) = req.name {
        if n.is_empty() || n.len() > 64 || !n.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
            return Err(CertError::Invalid {
                field: "name".into(),
                message: format!("{n:?}: use 1 to 64 letters, digits, '-' or '_'"),
            });
        }
    }
    let ca = CaFiles::in_dir(ca_dir);
    let ca_key_pem = std::fs::read_to_string(&ca.key).map_err(io(&ca.key))?;
    let ca_cert_pem = std::fs::read_to_string(&ca.cert).map_err(io(&ca.cert))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key)?;

    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let id = req.identity;
    let mut dn = DistinguishedName::new();
    let cn = match req.name {
        Some(n) => format!("{} {} {n}", id.code, id.role),
        None => format!("{} {}", id.code, id.role),
    };
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "gridfed");
    params.distinguished_name = dn;
    params.subject_alt_names.push(SanType::URI(id.uri().try_into()?));
    for (i, h) in req.hosts.iter().enumerate() {
        let host = h.rsplit_once(':').map_or(h.as_str(), |(host, _)| host);
        let san = match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.to_string().try_into().map_err(|_| CertError::Invalid {
                field: format!("host[{i}]"),
                message: format!("{h:?} is neither an IP address nor a host name"),
            })?),
        };
        params.subject_alt_names.push(san);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = OffsetDateTime::now_utc() - Duration::minutes(5);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(req.days);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;

    std::fs::create_dir_all(out).map_err(io(out))?;
    let stem = match req.name {
        Some(n) => format!("{}-{}-{n}", id.code, id.role),
        None => format!("{}-{}", id.code, id.role),
    };
    let issued = Issued { cert: out.join(format!("{stem}.pem")), key: out.join(format!("{stem}.key")) };
    write_new(&issued.key, &key.serialize_pem(), true)?;
    write_new(&issued.cert, &cert.pem(), false)?;
    Ok(issued)
}

/// What a certificate file says: its gridfed identities, validity and issuer.
pub struct Summary {
    pub identities: Vec<Identity>,
    /// The IP addresses and DNS names the certificate is valid for (its other SANs).
    pub hosts: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub subject: String,
    pub issuer: String,
    pub is_ca: bool,
}

/// Reads a PEM certificate and the identities its URI SANs carry.
pub fn inspect(path: &Path) -> Result<Summary, CertError> {
    let pem_text = std::fs::read(path).map_err(io(path))?;
    let bad = |m: String| CertError::Invalid { field: path.display().to_string(), message: m };
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem_text).map_err(|e| bad(format!("not PEM: {e}")))?;
    let cert = pem.parse_x509().map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
    let mut identities = Vec::new();
    let mut hosts = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            use x509_parser::extensions::GeneralName;
            match name {
                GeneralName::URI(uri) => {
                    if let Ok(id) = Identity::parse_uri("uri", uri) {
                        identities.push(id);
                    }
                }
                GeneralName::DNSName(dns) => hosts.push(dns.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => hosts.push(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
                    16 => {
                        let a: [u8; 16] = (*b).try_into().unwrap_or([0; 16]);
                        hosts.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok(Summary {
        identities,
        hosts,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        is_ca: cert.is_ca(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use federation::code::Code;
    use federation::identity::Role;

    #[test]
    fn a_ca_issues_certificates_that_carry_their_identity() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        init_ca(&ca_dir, "历下区").unwrap();
        assert!(
            matches!(init_ca(&ca_dir, "again"), Err(CertError::Exists { .. })),
            "a CA is never overwritten"
        );
        let ca = inspect(&ca_dir.join("ca.pem")).unwrap();
        assert!(ca.is_ca && ca.identities.is_empty());

        let id = Identity { code: Code::parse("c", "370102001").unwrap(), role: Role::Replica };
        let hosts = vec!["127.0.0.1:7201".to_string(), "street-1.lixia.local".to_string()];
        let req = Request { identity: &id, name: Some("r1"), hosts: &hosts, days: 30 };
        let issued = issue(&ca_dir, &req, &dir.path().join("out")).unwrap();
        let s = inspect(&issued.cert).unwrap();
        assert_eq!(s.identities, vec![id.clone()]);
        assert!(!s.is_ca);
        assert!(s.not_after - s.not_before >= 30 * 86_400);
        assert_eq!(s.issuer, ca.subject);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&issued.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "private key readable by others");
        }
        let bad = Request { identity: &id, name: Some("r 1"), hosts: &hosts, days: 30 };
        assert!(issue(&ca_dir, &bad, dir.path()).unwrap_err().to_string().starts_with("name"));
        let bad = Request { identity: &id, name: None, hosts: &hosts, days: 0 };
        assert!(issue(&ca_dir, &bad, dir.path()).unwrap_err().to_string().starts_with("days"));
    }
}

/// Writes `issued` (certificate and key) with the CA's certificate as a PKCS#12 file a browser can
/// import (PBES2 with AES-256 and HMAC-SHA-256), protected by `password`; returns its path
/// (`<cert stem>.p12`, mode 0600, never overwritten).
pub fn write_p12(issued: &Issued, ca_cert: &Path, password: &str) -> Result<PathBuf, CertError> {
    use p12_keystore::{
        Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey, PrivateKeyChain,
    };
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &Path, m: String| CertError::Invalid { field: path.display().to_string(), message: m };
    let read_cert = |path: &Path| -> Result<Certificate, CertError> {
        let pem = std::fs::read(path).map_err(io(path))?;
        let der = CertificateDer::from_pem_slice(&pem)
            .map_err(|e| bad(path, format!("not a PEM certificate: {e}")))?;
        Certificate::from_der(der.as_ref()).map_err(|e| bad(path, format!("unusable certificate: {e}")))
    };
    let leaf = read_cert(&issued.cert)?;
    let ca = read_cert(ca_cert)?;
    let key_pem = std::fs::read(&issued.key).map_err(io(&issued.key))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| bad(&issued.key, format!("not a PEM key: {e}")))?;
    let key = PrivateKey::from_der(key_der.secret_der())
        .map_err(|e| bad(&issued.key, format!("unusable key: {e}")))?;
    let mut store = KeyStore::new();
    let alias =
        issued.cert.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "gridfed".into());
    store.add_entry(
        &alias,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(alias.as_str(), key, [leaf, ca])),
    );
    let bytes = store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .write()
        .map_err(|e| bad(&issued.cert, format!("cannot write PKCS#12: {e}")))?;
    let path = issued.cert.with_extension("p12");
    write_new_bytes(&path, &bytes)?;
    Ok(path)
}

/// Writes `bytes` to a new file private to the owner (never overwriting).
fn write_new_bytes(path: &Path, bytes: &[u8]) -> Result<(), CertError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => CertError::Exists { path: path.display().to_string() },
        _ => CertError::Io { path: path.display().to_string(), source: e },
    })?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io(path))
}

#[cfg(test)]
mod p12_tests {
    use super::*;

    #[test]
    fn an_operator_certificate_is_written_as_a_pkcs12_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let ca = init_ca(&dir.path().join("ca"), "历下区").unwrap();
        let identity = Identity {
            code: federation::code::Code::parse_node("c", "370102").unwrap(),
            role: federation::identity::Role::Operator,
        };
        let req = Request { identity: &identity, name: Some("wang"), hosts: &[], days: 30 };
        let issued = issue(&dir.path().join("ca"), &req, dir.path()).unwrap();
        let p12 = write_p12(&issued, &ca.cert, "pass-1234").unwrap();
        let store = p12_keystore::KeyStore::from_pkcs12(
            &std::fs::read(&p12).unwrap(),
            "pass-1234",
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .unwrap();
        let (_, chain) = store.private_key_chain().unwrap();
        assert_eq!(chain.certs().len(), 2);
        assert!(matches!(write_p12(&issued, &ca.cert, "x"), Err(CertError::Exists { .. })));
    }
}
