//! `gridnode certs init-ca|issue|show`: the district's CA and the certificates of replicas and operators.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use federation::code::Code;
use federation::identity::{Identity, Role};
use serde_json::json;

use super::output;
use crate::certs;

#[derive(Subcommand, Debug)]
pub enum CertsCmd {
    /// Create the district's certificate authority (ca.pem, ca.key) in DIR.
    InitCa {
        #[arg(long)]
        out: PathBuf,
        /// Name in the CA's subject, e.g. the district.
        #[arg(long, default_value = "district")]
        name: String,
        /// Print {cert, key} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a certificate whose identity (URI SAN gridfed://CODE/ROLE) servers authorize on.
    Issue {
        /// The CA directory (from init-ca).
        #[arg(long)]
        ca: PathBuf,
        /// Node code (6, 9 or 12 digits).
        #[arg(long)]
        code: String,
        /// replica | operator
        #[arg(long)]
        role: String,
        /// Operator name or replica number (used in the file name).
        #[arg(long)]
        name: Option<String>,
        /// Address or host name the certificate is valid for (repeat for several; replicas: their ip:port).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
        #[arg(long)]
        out: PathBuf,
        /// Also write a PKCS#12 file (certificate, key and CA; for a browser to import). Its password
        /// is generated and printed once unless given with --p12-password.
        #[arg(long)]
        p12: bool,
        /// The PKCS#12 file's password (with --p12).
        #[arg(long, env = "GRIDNODE_P12_PASSWORD", requires = "p12")]
        p12_password: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a certificate's gridfed identity and validity.
    Show {
        cert: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: CertsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CertsCmd::InitCa { out, name, json } => {
            let f = certs::init_ca(&out, &name)?;
            if json {
                say!("{}", json!({"cert": f.cert, "key": f.key}));
            } else {
                say!(
                    "CA created: {} (key {}, keep it offline and private)",
                    f.cert.display(),
                    f.key.display()
                );
            }
        }
        CertsCmd::Issue { ca, code, role, name, hosts, days, out, p12, p12_password, json } => {
            let identity =
                Identity { code: Code::parse_node("--code", &code)?, role: Role::parse("--role", &role)? };
            let req = certs::Request { identity: &identity, name: name.as_deref(), hosts: &hosts, days };
            let issued = certs::issue(&ca, &req, &out)?;
            let p12 = if p12 {
                let (password, generated) = match p12_password {
                    Some(p) => (p, false),
                    None => {
                        use rand::Rng;
                        let p: String = rand::thread_rng()
                            .sample_iter(&rand::distributions::Alphanumeric)
                            .take(16)
                            .map(char::from)
                            .collect();
                        (p, true)
                    }
                };
                let path = certs::write_p12(&issued, &ca.join("ca.pem"), &password)?;
                Some((path, generated.then_some(password)))
            } else {
                None
            };
            if json {
                let mut v = json!({"identity": identity.uri(), "cert": issued.cert, "key": issued.key});
                if let Some((path, password)) = &p12 {
                    v["p12"] = json!(path);
                    v["p12_password"] = json!(password);
                }
                say!("{v}");
            } else {
                if let Some((path, password)) = &p12 {
                    say!("PKCS#12 for a browser: {}", path.display());
                    if let Some(p) = password {
                        say!("its password (shown once): {p}");
                    }
                }
                say!(
                    "issued {} ({}): {} and {}",
                    identity.uri(),
                    identity,
                    issued.cert.display(),
                    issued.key.display()
                );
            }
        }
        CertsCmd::Show { cert, json } => {
            let s = certs::inspect(&cert)?;
            let ids: Vec<String> = s.identities.iter().map(Identity::uri).collect();
            if json {
                say!(
                    "{}",
                    json!({"identities": ids, "hosts": s.hosts, "subject": s.subject, "issuer": s.issuer, "is_ca": s.is_ca,
                           "not_before": s.not_before, "not_after": s.not_after})
                );
            } else {
                say!("subject   {}", s.subject);
                say!("issuer    {}", s.issuer);
                say!("identity  {}", if ids.is_empty() { "-".to_string() } else { ids.join(", ") });
                if !s.hosts.is_empty() {
                    say!("hosts     {}", s.hosts.join(", "));
                }
                say!(
                    "valid     {} .. {}",
                    output::time(s.not_before * 1000),
                    output::time(s.not_after * 1000)
                );
                if s.is_ca {
                    say!("this is a CA certificate");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
