//! `console.toml`: where the console listens, its database, its data folder and the brokers it
//! follows. Validated when it loads (and by `streetwatch check`), with the file and field named.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "default_listen")]
    listen: String,
    /// `sqlite:PATH` (relative to the configuration) or `postgres://…`; default: an SQLite file
    /// in the data folder.
    #[serde(default)]
    database: Option<String>,
    /// Folder of the snapshots (and of the default database).
    data_dir: PathBuf,
    #[serde(default)]
    brokers: Vec<BrokerConfig>,
    /// Folder of the cameras' calibration files the zone editor may change.
    #[serde(default)]
    calibrations: Option<PathBuf>,
    /// Operator accounts: required to listen anywhere but loopback.
    #[serde(default)]
    operators: Vec<OperatorConfig>,
    /// Mark cookies `Secure` (set when a proxy serves the console over HTTPS).
    #[serde(default)]
    secure_cookies: bool,
}

/// An operator's account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// The login (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Shown and recorded with decisions (e.g. the operator's name in Chinese).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Argon2 PHC string from `streetwatch console --hash-password`.
    pub password_hash: String,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

/// One broker the console follows (an edge box's, or a city-wide one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// A short name for logs and for the case's origin.
    pub name: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<crate::config::Secret>,
    /// The password from a file (a systemd credential) or an environment variable instead.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// PEM file of the CA that signed the broker's certificate: enables TLS.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// The persistent session's client id (default `streetwatch-console-<name>`): alerts sent
    /// while the console is down wait at the broker for it.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Subscribe through MQTT shared subscriptions (`$share/<group>/…`): consoles with the same
    /// group split the messages between them.
    #[serde(default)]
    pub share_group: Option<String>,
}

fn default_port() -> u16 {
    1883
}

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub path: PathBuf,
    pub listen: SocketAddr,
    pub database: String,
    pub data_dir: PathBuf,
    pub brokers: Vec<BrokerConfig>,
    /// The zone editor's folder (`None`: no editor).
    pub calibrations: Option<PathBuf>,
    pub operators: Vec<OperatorConfig>,
    pub secure_cookies: bool,
}

impl ConsoleConfig {
    pub fn load(path: &Path) -> Result<ConsoleConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let raw: Raw =
            toml::from_str(&text).map_err(|e| Error::config(path, None, e.to_string()))?;
        let field =
            |name: &str, msg: String| Error::config(path, None, format!("field {name}: {msg}"));
        let base = path.parent().unwrap_or(Path::new("."));
        let listen: SocketAddr = raw
            .listen
            .parse()
            .map_err(|e| field("listen", format!("{}: {e}", raw.listen)))?;
        for (i, o) in raw.operators.iter().enumerate() {
            crate::ident::check(&o.name).map_err(|e| field("operators.name", e))?;
            if raw.operators[..i].iter().any(|x| x.name == o.name) {
                return Err(field(
                    "operators.name",
                    format!("duplicate name '{}'", o.name),
                ));
            }
            if let Some(d) = &o.display_name {
                if d.trim().is_empty() || d.chars().count() > 64 || d.chars().any(char::is_control)
                {
                    return Err(field(
                        "operators.display_name",
                        format!(
                            "operator '{}': 1 to 64 characters, no control characters",
                            o.name
                        ),
                    ));
                }
            }
            match argon2::password_hash::PasswordHash::new(&o.password_hash) {
                Ok(h) if h.algorithm.as_str().starts_with("argon2") && h.hash.is_some() => {}
                _ => {
                    return Err(field(
                        "operators.password_hash",
                        format!(
                            "operator '{}': not an Argon2 hash (make one with: streetwatch console --hash-password)",
                            o.name
                        ),
                    ))
                }
            }
        }
        if !listen.ip().is_loopback() && raw.operators.is_empty() {
            return Err(field(
                "listen",
                format!(
                    "{listen} is reachable from other machines: add operator accounts ([[operators]]) or listen on loopback"
                ),
            ));
        }
        if raw.data_dir.as_os_str().is_empty() {
            return Err(field("data_dir", "empty".into()));
        }
        let data_dir = base.join(&raw.data_dir);
        let database = match raw.database {
            None => format!("sqlite://{}", data_dir.join("console.db").display()),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => url,
            Some(url) => match url
                .strip_prefix("sqlite://")
                .or(url.strip_prefix("sqlite:"))
            {
                Some(file) if !file.is_empty() => {
                    format!("sqlite://{}", base.join(file).display())
                }
                _ => {
                    return Err(field(
                        "database",
                        "expected sqlite:PATH or postgres://…".into(),
                    ))
                }
            },
        };
        if raw.brokers.is_empty() {
            return Err(field("brokers", "no broker to follow ([[brokers]])".into()));
        }
        let mut brokers = Vec::new();
        for mut b in raw.brokers {
            crate::ident::check(&b.name).map_err(|e| field("brokers.name", e))?;
            if brokers.iter().any(|x: &BrokerConfig| x.name == b.name) {
                return Err(field(
                    "brokers.name",
                    format!("duplicate name '{}'", b.name),
                ));
            }
            if b.host.trim().is_empty() {
                return Err(field("brokers.host", format!("broker '{}': empty", b.name)));
            }
            if b.port == 0 {
                return Err(field(
                    "brokers.port",
                    format!("broker '{}': 0 is not a port", b.name),
                ));
            }
            b.password = crate::config::resolve_secret(
                base,
                "brokers.password",
                b.password.take(),
                b.password_file.as_deref(),
                b.password_env.as_deref(),
            )
            .map_err(|e| Error::config(path, None, format!("broker '{}': {e}", b.name)))?;
            if let Some(g) = &b.share_group {
                crate::ident::check(g).map_err(|e| field("brokers.share_group", e))?;
            }
            if let Some(ca) = &b.tls_ca {
                let p = base.join(ca);
                if !p.is_file() {
                    return Err(field(
                        "brokers.tls_ca",
                        format!("broker '{}': no such file {}", b.name, p.display()),
                    ));
                }
                b.tls_ca = Some(p);
            }
            brokers.push(b);
        }
        let calibrations = match raw.calibrations {
            None => None,
            Some(c) => {
                let dir = base.join(&c);
                if !dir.is_dir() {
                    return Err(field(
                        "calibrations",
                        format!("no such folder {}", dir.display()),
                    ));
                }
                Some(dir)
            }
        };
        Ok(ConsoleConfig {
            path: path.to_path_buf(),
            listen,
            database,
            data_dir,
            brokers,
            calibrations,
            operators: raw.operators,
            secure_cookies: raw.secure_cookies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> std::result::Result<ConsoleConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("console.toml");
        std::fs::write(&p, text).unwrap();
        ConsoleConfig::load(&p).map_err(|e| e.to_string())
    }

    const GOOD: &str =
        "data_dir = \"data\"\n[[brokers]]\nname = \"edge-1\"\nhost = \"127.0.0.1\"\n";

    #[test]
    fn a_console_configuration_is_validated_with_its_field_named() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.database.starts_with("sqlite://") && c.database.ends_with("data/console.db"));
        for (text, field) in [
            (format!("listen = \"0.0.0.0:8080\"\n{GOOD}"), "listen"),
            (format!("listen = \"nonsense\"\n{GOOD}"), "listen"),
            (format!("database = \"mysql://x\"\n{GOOD}"), "database"),
            ("data_dir = \"d\"\n".to_string(), "brokers"),
            (GOOD.replace("edge-1", "edge/1"), "brokers.name"),
            (
                format!("{GOOD}share_group = \"a+b\"\n"),
                "brokers.share_group",
            ),
            (format!("{GOOD}port = 0\n"), "brokers.port"),
            (
                format!("calibrations = \"nowhere\"\n{GOOD}"),
                "calibrations",
            ),
            (
                format!("{GOOD}password_file = \"nope.pw\"\n"),
                "brokers.password_file",
            ),
        ] {
            let e = load(&text).unwrap_err();
            assert!(
                e.contains("console.toml") && e.contains(&format!("field {field}")),
                "{field}: {e}"
            );
        }
        let pg = load(&format!("database = \"postgres://u@h/db\"\n{GOOD}")).unwrap();
        assert_eq!(pg.database, "postgres://u@h/db");
    }

    #[test]
    fn listening_beyond_loopback_needs_operator_accounts() {
        let hash = crate::console::auth::hash_password("pw").unwrap();
        let op = |name: &str, hash: &str| {
            format!("[[operators]]\nname = \"{name}\"\npassword_hash = \"{hash}\"\n")
        };
        let public = format!("listen = \"0.0.0.0:8080\"\n{GOOD}");
        assert!(load(&public).unwrap_err().contains("[[operators]]"));
        let c = load(&format!("{public}{}", op("wang.wu", &hash))).unwrap();
        assert_eq!(c.operators.len(), 1);
        for (extra, field) in [
            (op("wang/wu", &hash), "operators.name"),
            (
                format!("{}{}", op("a", &hash), op("a", &hash)),
                "operators.name",
            ),
            (op("a", "plaintext-password"), "operators.password_hash"),
            (
                op("a", "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA"),
                "operators.password_hash",
            ),
            (
                format!("{}display_name = \"\\n\"\n", op("a", &hash)),
                "operators.display_name",
            ),
        ] {
            let e = load(&format!("{public}{extra}")).unwrap_err();
            assert!(e.contains(&format!("field {field}")), "{field}: {e}");
            assert!(!e.contains(&hash), "the hash is not echoed: {e}");
        }
    }
}
