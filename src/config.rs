//! The service configuration (`streetwatch run --config FILE`): cameras, the MQTT broker, storage
//! and the metrics address. Errors name the file, the line and the field; credentials never appear
//! in messages or logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::calibration::Calibration;
use crate::error::{line_of, toml_error, Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCamera {
    id: Spanned<String>,
    /// `rtsp://…`, a video file (played in real time, looped) or a device number.
    url: Spanned<String>,
    calibration: Spanned<PathBuf>,
    #[serde(default = "default_rate")]
    detect_fps: f64,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "default_open_timeout")]
    open_timeout_s: f64,
    #[serde(default = "default_read_timeout")]
    read_timeout_s: f64,
    /// The camera's password from a file (a systemd credential) or an environment variable,
    /// put into the URL (which names the user): the configuration then holds no password.
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(default)]
    password_env: Option<String>,
}

fn default_open_timeout() -> f64 {
    20.0
}

fn default_read_timeout() -> f64 {
    5.0
}

/// How a camera's stream is opened and read. (RTP comes inside the RTSP connection: OpenCV's
/// FFmpeg backend asks for TCP first, `rtsp_flags=prefer_tcp`, unless the environment variable
/// `OPENCV_FFMPEG_CAPTURE_OPTIONS` says otherwise; tested with a server that offers TCP only.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptureOptions {
    /// Longest an attempt to open the stream may take (RTSP's four requests, each a round
    /// trip, then the first frames): seconds.
    pub open_timeout_s: f64,
    /// Longest wait for a frame before the stream counts as stalled: seconds.
    pub read_timeout_s: f64,
}

impl Default for CaptureOptions {
    fn default() -> CaptureOptions {
        CaptureOptions {
            open_timeout_s: default_open_timeout(),
            read_timeout_s: default_read_timeout(),
        }
    }
}

fn default_rate() -> f64 {
    5.0
}

fn yes() -> bool {
    true
}

/// A password: printed as `***` (`Debug`), its text only through `expose`, where it is used.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// The one rule for a secret of a configuration file: written in it (`password`), or read from
/// a file (`password_file`, e.g. a systemd credential under `$CREDENTIALS_DIRECTORY`; relative
/// to the configuration; one trailing line break dropped) or from an environment variable
/// (`password_env`): one of the three at most. Errors name the field, never the secret.
pub fn resolve_secret(
    base: &Path,
    field: &str,
    inline: Option<Secret>,
    file: Option<&Path>,
    env: Option<&str>,
) -> std::result::Result<Option<Secret>, String> {
    let given = [inline.is_some(), file.is_some(), env.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(format!(
            "field {field}: give one of {field}, {field}_file and {field}_env"
        ));
    }
    if let Some(f) = file {
        let p = base.join(f);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| format!("field {field}_file: {}: {e}", p.display()))?;
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        if text.is_empty() {
            return Err(format!("field {field}_file: {} is empty", p.display()));
        }
        return Ok(Some(Secret::new(text)));
    }
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
            _ => Err(format!(
                "field {field}_env: the environment variable {var} is not set"
            )),
        };
    }
    Ok(inline)
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// The password from a file (a systemd credential) or an environment variable instead.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// PEM file of the CA that signed the broker's certificate: enables TLS.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// Longest a connection attempt (TCP, TLS, CONNECT/CONNACK) may take, seconds: a 4G link
    /// with a TLS handshake needs several round trips of up to a second each.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_s: u64,
    /// Longest wait between connection attempts, seconds (the wait doubles from 0.5 s after
    /// each failure and starts again after a connection).
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_s: u64,
    /// The broker's largest packet, KiB (mosquitto's `max_packet_size`, a cloud broker's message
    /// limit). A broker closes the connection on a bigger packet, and the client would send it
    /// again after every reconnect: entries over it are quarantined instead of sent.
    #[serde(default = "default_max_packet_kb")]
    pub max_packet_kb: u64,
}

fn default_max_packet_kb() -> u64 {
    16 * 1024
}

fn default_connect_timeout() -> u64 {
    30
}

fn default_reconnect_max() -> u64 {
    30
}

fn default_port() -> u16 {
    1883
}

fn default_keep_alive() -> u64 {
    10
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Folder of the durable outbox, the alert log and snapshots.
    pub dir: PathBuf,
    /// Most alerts kept while the broker is unreachable; when full the oldest is dropped (and
    /// counted), so that the newest cases always reach the control room.
    #[serde(default = "default_outbox")]
    pub max_outbox: usize,
    /// Free space kept on the storage's file system, MiB: below it alerts go out without
    /// snapshots.
    #[serde(default = "default_min_free")]
    pub min_free_mb: u64,
    /// Most space for `snapshots/`, MiB; the oldest are removed to make room.
    #[serde(default = "default_max_snapshots")]
    pub max_snapshots_mb: u64,
    /// Size at which `alerts.jsonl` is rotated to `alerts.jsonl.1` (one generation kept), MiB.
    #[serde(default = "default_max_log")]
    pub max_log_mb: u64,
    /// The box's Ed25519 secret key (`bundle.key` from `streetwatch keygen`): when set, every
    /// alert is signed (its `signature` covers the payload and, through `snapshot_sha256`, the
    /// image), and `streetwatch verify --key bundle.pub` checks saved alerts.
    #[serde(default)]
    pub sign_key: Option<PathBuf>,
    /// An episode's clip: seconds before its start and after it (0 and 0: no clips).
    #[serde(default = "default_clip_before")]
    pub clip_before_s: f64,
    #[serde(default = "default_clip_after")]
    pub clip_after_s: f64,
    /// Clips are scaled down to this width, pixels.
    #[serde(default = "default_clip_width")]
    pub clip_width: u32,
}

fn default_clip_before() -> f64 {
    3.0
}

fn default_clip_after() -> f64 {
    7.0
}

fn default_clip_width() -> u32 {
    640
}

/// Most inference threads a configuration may ask for.
const MAX_THREADS: usize = 256;

fn one() -> usize {
    1
}

fn default_outbox() -> usize {
    10_000
}

fn default_min_free() -> u64 {
    200
}

fn default_max_snapshots() -> u64 {
    2048
}

fn default_max_log() -> u64 {
    64
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: Spanned<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    threads: usize,
    /// Where the model runs: cpu (default), cuda, tensorrt, openvino.
    #[serde(default)]
    execution_provider: crate::model::Provider,
    /// Inference sessions, each working on another camera's frame at once.
    #[serde(default = "one")]
    inference_sessions: usize,
    #[serde(default)]
    cameras: Vec<RawCamera>,
    mqtt: MqttConfig,
    storage: StorageConfig,
    #[serde(default)]
    metrics: Option<Spanned<String>>,
    #[serde(default = "default_health")]
    health_interval_s: f64,
}

fn default_health() -> f64 {
    10.0
}

#[derive(Clone)]
pub struct CameraConfig {
    pub id: String,
    /// The URL the capture opens (with its password: logs and status show `safe_url`).
    pub url: String,
    pub calibration: Calibration,
    pub detect_fps: f64,
    pub capture: CaptureOptions,
}

impl std::fmt::Debug for CameraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraConfig")
            .field("id", &self.id)
            .field("url", &self.safe_url())
            .field("detect_fps", &self.detect_fps)
            .field("capture", &self.capture)
            .finish_non_exhaustive()
    }
}

impl CameraConfig {
    /// The URL with any password replaced, for logs and status messages.
    pub fn safe_url(&self) -> String {
        redact(&self.url)
    }
}

/// `url` with `password` as its password (the URL names the user).
fn with_password(url: &str, password: &Secret) -> std::result::Result<String, String> {
    let mut u = url::Url::parse(url).map_err(|_| "the url does not parse as a URL".to_string())?;
    if u.username().is_empty() {
        return Err("the url names no user (rtsp://user@host/...)".into());
    }
    if u.password().is_some() {
        return Err("the url holds a password already: one source of it".into());
    }
    u.set_password(Some(password.expose()))
        .map_err(|()| "this url cannot hold a password".to_string())?;
    Ok(u.to_string())
}

/// Query parameters that carry secrets (compared without case; any name holding "pass",
/// "token", "secret" or "key" counts too).
const SECRET_PARAMS: &[&str] = &[
    "pwd",
    "auth",
    "authorization",
    "sig",
    "signature",
    "credential",
];

fn secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&n.as_str())
        || ["pass", "token", "secret", "key"]
            .iter()
            .any(|s| n.contains(s))
}

/// The URL as logs, status messages and alerts may show it: the password and every secret
/// query value replaced by `***`, found by parsing the URL (WHATWG rules, the `url` crate),
/// not by pattern. A URL that does not parse (a password holding an unescaped `/`, say) shows
/// nothing of what stands between the scheme and its last `@`, nor its query. A file path or
/// device number is shown as it is.
pub fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if u.query().is_some() {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if secret_param(&k) {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => {
            let (rest, query) = match rest.split_once('?') {
                Some((r, _)) => (r, "?***"),
                None => (rest, ""),
            };
            match rest.rfind('@') {
                Some(at) => format!("{scheme}://***@{}{query}", &rest[at + 1..]),
                None => format!("{scheme}://{rest}{query}"),
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub path: PathBuf,
    pub site: String,
    pub model: String,
    pub threads: usize,
    pub execution_provider: crate::model::Provider,
    /// Inference sessions working on different cameras' frames at once (each with `threads`
    /// threads): `inference_sessions = 2, threads = 1` on a 2-core box runs two frames at a time.
    pub inference_sessions: usize,
    pub cameras: Vec<CameraConfig>,
    pub mqtt: MqttConfig,
    pub storage: StorageConfig,
    pub metrics: Option<SocketAddr>,
    pub health_interval_s: f64,
}

impl ServiceConfig {
    pub fn load(path: &Path) -> Result<ServiceConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| toml_error(path, &text, e))?;
        let at = |span: std::ops::Range<usize>, msg: String| {
            Error::config(path, Some(line_of(&text, span.start)), msg)
        };
        let base = path.parent().unwrap_or(Path::new("."));
        if let Err(e) = crate::ident::check(raw.site.get_ref()) {
            return Err(at(raw.site.span(), format!("field site: {e}")));
        }
        let mut cameras = Vec::new();
        for c in raw.cameras.into_iter().filter(|c| c.enabled) {
            let id = c.id.get_ref().clone();
            if let Err(e) = crate::ident::check(&id) {
                return Err(at(c.id.span(), format!("camera field id: {e}")));
            }
            if cameras.iter().any(|x: &CameraConfig| x.id == id) {
                return Err(at(
                    c.id.span(),
                    format!("camera field id: duplicate id '{id}'"),
                ));
            }
            if c.url.get_ref().trim().is_empty() {
                return Err(at(c.url.span(), format!("camera '{id}' field url: empty")));
            }
            if !(c.detect_fps > 0.0 && c.detect_fps <= 30.0) {
                return Err(at(
                    c.id.span(),
                    format!("camera '{id}' field detect_fps: must be within (0, 30]"),
                ));
            }
            for (name, v) in [
                ("open_timeout_s", c.open_timeout_s),
                ("read_timeout_s", c.read_timeout_s),
            ] {
                if !(1.0..=300.0).contains(&v) {
                    return Err(at(
                        c.id.span(),
                        format!("camera '{id}' field {name}: {v}: must be from 1 to 300 seconds"),
                    ));
                }
            }
            let cal_path = base.join(c.calibration.get_ref());
            if !cal_path.is_file() {
                return Err(at(
                    c.calibration.span(),
                    format!(
                        "camera '{id}' field calibration: no such file {}",
                        cal_path.display()
                    ),
                ));
            }
            let mut calibration = Calibration::load(&cal_path)?;
            // The configuration's id names the camera everywhere in the service (alert
            // payloads, alert, snapshot and status topics, file names); the calibration's
            // camera_id is for replays.
            calibration.camera_id = id.clone();
            // A file path is relative to the configuration, like the calibration.
            let url_span = c.url.span();
            let url = c.url.into_inner();
            let url = if !url.contains("://") && url.parse::<i32>().is_err() {
                base.join(&url).to_string_lossy().into_owned()
            } else {
                url
            };
            let url = match resolve_secret(
                base,
                "password",
                None,
                c.password_file.as_deref(),
                c.password_env.as_deref(),
            )
            .map_err(|e| at(url_span.clone(), format!("camera '{id}' {e}")))?
            {
                None => url,
                Some(pw) => with_password(&url, &pw).map_err(|e| {
                    at(
                        url_span.clone(),
                        format!("camera '{id}' field password_file: {e}"),
                    )
                })?,
            };
            cameras.push(CameraConfig {
                id,
                url,
                calibration,
                detect_fps: c.detect_fps,
                capture: CaptureOptions {
                    open_timeout_s: c.open_timeout_s,
                    read_timeout_s: c.read_timeout_s,
                },
            });
        }
        // No camera is allowed: a box freshly installed runs idle (health only) until a camera
        // is added and the service reloaded.
        let metrics = match &raw.metrics {
            Some(m) => Some(m.get_ref().parse::<SocketAddr>().map_err(|e| {
                at(
                    m.span(),
                    format!(
                        "field metrics: '{}' is not an address like 127.0.0.1:9464 ({e})",
                        m.get_ref()
                    ),
                )
            })?),
            None => None,
        };
        let field =
            |name: &str, msg: String| Error::config(path, None, format!("field {name}: {msg}"));
        if raw.mqtt.host.trim().is_empty() {
            return Err(field("mqtt.host", "empty".into()));
        }
        if raw.mqtt.port == 0 {
            return Err(field("mqtt.port", "0 is not a port".into()));
        }
        if raw.mqtt.keep_alive_s > u16::MAX as u64 {
            return Err(field(
                "mqtt.keep_alive_s",
                format!("at most {} (MQTT's limit)", u16::MAX),
            ));
        }
        if !(8..=16 * 1024).contains(&raw.mqtt.max_packet_kb) {
            return Err(field(
                "mqtt.max_packet_kb",
                format!(
                    "{}: must be from 8 to 16384 KiB (an alert needs a few KiB)",
                    raw.mqtt.max_packet_kb
                ),
            ));
        }
        for (name, v) in [
            ("mqtt.connect_timeout_s", raw.mqtt.connect_timeout_s),
            ("mqtt.reconnect_max_s", raw.mqtt.reconnect_max_s),
        ] {
            if !(1..=3600).contains(&v) {
                return Err(field(name, format!("{v}: must be from 1 to 3600 seconds")));
            }
        }
        if !(1..=16).contains(&raw.inference_sessions) {
            return Err(field(
                "inference_sessions",
                format!("{}: from 1 to 16", raw.inference_sessions),
            ));
        }
        if raw.threads > MAX_THREADS {
            return Err(field(
                "threads",
                format!("{}: at most {MAX_THREADS}", raw.threads),
            ));
        }
        if !(raw.health_interval_s.is_finite() && (1.0..=3600.0).contains(&raw.health_interval_s)) {
            return Err(field(
                "health_interval_s",
                "must be from 1 to 3600 seconds".into(),
            ));
        }
        if raw.storage.dir.as_os_str().is_empty() {
            return Err(field("storage.dir", "empty".into()));
        }
        for (name, v) in [
            ("storage.clip_before_s", raw.storage.clip_before_s),
            ("storage.clip_after_s", raw.storage.clip_after_s),
        ] {
            if !(v.is_finite() && (0.0..=30.0).contains(&v)) {
                return Err(field(name, format!("{v}: seconds from 0 to 30")));
            }
        }
        if !(160..=1920).contains(&raw.storage.clip_width) {
            return Err(field(
                "storage.clip_width",
                format!("{}: pixels from 160 to 1920", raw.storage.clip_width),
            ));
        }
        if raw.storage.max_outbox == 0 {
            return Err(field("storage.max_outbox", "must be at least 1".into()));
        }
        let mut storage = raw.storage;
        storage.dir = base.join(&storage.dir);
        if let Some(key) = &storage.sign_key {
            let key = base.join(key);
            crate::bundle::load_signing_key(&key)
                .map_err(|e| Error::config(path, None, format!("field storage.sign_key: {e}")))?;
            storage.sign_key = Some(key);
        }
        let mut mqtt = raw.mqtt;
        mqtt.password = resolve_secret(
            base,
            "mqtt.password",
            mqtt.password.take(),
            mqtt.password_file.as_deref(),
            mqtt.password_env.as_deref(),
        )
        .map_err(|e| Error::config(path, None, e))?;
        if let Some(ca) = &mqtt.tls_ca {
            let p = base.join(ca);
            if !p.is_file() {
                return Err(Error::config(
                    path,
                    None,
                    format!("field mqtt.tls_ca: no such file {}", p.display()),
                ));
            }
            mqtt.tls_ca = Some(p);
        }
        Ok(ServiceConfig {
            path: path.to_path_buf(),
            site: raw.site.into_inner(),
            model: raw.model.unwrap_or_else(|| "nanodet".into()),
            threads: raw.threads,
            execution_provider: raw.execution_provider,
            inference_sessions: raw.inference_sessions,
            cameras,
            mqtt,
            storage,
            metrics,
            health_interval_s: raw.health_interval_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class: every way a secret can sit in a camera URL, and the text shown never holds
    /// it; what an operator needs (scheme, user, host, port, path) stays.
    #[test]
    fn passwords_are_redacted() {
        let cases = [
            (
                "rtsp://admin:s3cret@10.0.0.5:554/ch1",
                "s3cret",
                "rtsp://admin:***@10.0.0.5:554/ch1",
            ),
            (
                "rtsp://admin:se/cret@10.0.0.5:554/ch1",
                "se/cret",
                "rtsp://***@10.0.0.5:554/ch1",
            ),
            (
                "rtsp://admin:p@ss@10.0.0.5/ch1",
                "p@ss",
                "rtsp://admin:***@10.0.0.5/ch1",
            ),
            (
                "rtsp://admin:p%2Fss@cam.local/ch1",
                "p%2Fss",
                "rtsp://admin:***@cam.local/ch1",
            ),
            (
                "rtsp://10.0.0.5/ch1?user=admin&password=s3cret&channel=1",
                "s3cret",
                "rtsp://10.0.0.5/ch1?user=admin&password=***&channel=1",
            ),
            (
                "http://cam/snap.jpg?token=abc123",
                "abc123",
                "http://cam/snap.jpg?token=***",
            ),
            ("rtsp://u:pa/ss@h/x?pwd=q/w", "q/w", "rtsp://***@h/x?***"),
        ];
        for (raw, secret, shown) in cases {
            let got = redact(raw);
            assert!(!got.contains(secret), "{raw} -> {got}");
            assert_eq!(got, shown, "{raw}");
        }
        assert_eq!(redact("rtsp://10.0.0.5/ch1"), "rtsp://10.0.0.5/ch1");
        assert_eq!(redact("samples/vtest.avi"), "samples/vtest.avi");
        assert_eq!(redact("0"), "0");
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const CAL: &str =
        "camera_id = \"calib-id\"\nsite = \"s\"\nframe_width = 320\nframe_height = 240\n";

    /// Passwords come from the file, a file beside it (a systemd credential) or the
    /// environment, one source at a time; the configuration's debug form, its errors and the
    /// camera's shown URL never hold them.
    #[test]
    fn secrets_come_from_files_or_the_environment_and_are_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cal.toml", CAL);
        write(dir.path(), "mqtt.pw", "s3cret-from-file\n");
        write(dir.path(), "cam.pw", "cam-s3cret\r\n");
        let with = |mqtt: &str, camera: &str| {
            let text = service("d7", "cam1")
                .replace(
                    "host = \"h\"",
                    &format!("host = \"h\"\nusername = \"u\"\n{mqtt}"),
                )
                .replace(
                    "url = \"rtsp://h/x\"",
                    &format!("url = \"rtsp://admin@h/x\"\n{camera}"),
                );
            ServiceConfig::load(&write(dir.path(), "svc.toml", &text)).map_err(|e| e.to_string())
        };
        let c = with("password_file = \"mqtt.pw\"", "password_file = \"cam.pw\"").unwrap();
        assert_eq!(
            c.mqtt.password.as_ref().map(Secret::expose),
            Some("s3cret-from-file")
        );
        assert_eq!(c.cameras[0].url, "rtsp://admin:cam-s3cret@h/x");
        assert_eq!(c.cameras[0].safe_url(), "rtsp://admin:***@h/x");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("***"),
            "{shown}"
        );
        std::env::set_var("SW_TEST_SECRET_MQTT_PW", "from-env");
        let c = with("password_env = \"SW_TEST_SECRET_MQTT_PW\"", "").unwrap();
        assert_eq!(
            c.mqtt.password.as_ref().map(Secret::expose),
            Some("from-env")
        );
        let c = with("password = \"inline\"", "").unwrap();
        assert_eq!(c.mqtt.password.as_ref().map(Secret::expose), Some("inline"));
        for (mqtt, camera, field) in [
            (
                "password = \"inline\"\npassword_file = \"mqtt.pw\"",
                "",
                "field mqtt.password",
            ),
            (
                "password_file = \"none.pw\"",
                "",
                "field mqtt.password_file",
            ),
            (
                "password_env = \"SW_TEST_SECRET_UNSET\"",
                "",
                "field mqtt.password_env",
            ),
            ("", "password_file = \"none.pw\"", "field password_file"),
            (
                "",
                "password_env = \"SW_TEST_SECRET_UNSET\"",
                "field password_env",
            ),
        ] {
            let e = with(mqtt, camera).unwrap_err();
            assert!(e.contains(field) && e.contains("svc.toml"), "{field}: {e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
        // A camera URL that holds a password already cannot take another; one that names no
        // user cannot take one.
        for (url, expected) in [
            ("rtsp://admin:inline@h/x", "holds a password already"),
            ("rtsp://h/x", "names no user"),
        ] {
            let text = service("d7", "cam1").replace(
                "url = \"rtsp://h/x\"",
                &format!("url = \"{url}\"\npassword_file = \"cam.pw\""),
            );
            let e = ServiceConfig::load(&write(dir.path(), "svc.toml", &text))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected) && !e.contains("s3cret"), "{url}: {e}");
        }
    }

    fn service(site: &str, id: &str) -> String {
        format!(
            "site = \"{site}\"\n[mqtt]\nhost = \"h\"\n[storage]\ndir = \"st\"\n\n\
             [[cameras]]\nid = \"{id}\"\nurl = \"rtsp://h/x\"\ncalibration = \"cal.toml\"\n"
        )
    }

    /// Every identifier that reaches a topic or a file name follows one rule, in the service
    /// configuration (site, camera id) and in the calibration (site, camera_id); the error
    /// names the file, the line and the field. The configuration's camera id is the one the
    /// service uses (alerts and status share their topics).
    #[test]
    fn identifiers_follow_one_rule_and_the_config_names_the_camera() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cal.toml", CAL);
        let ok = write(dir.path(), "ok.toml", &service("district-7", "cam1"));
        let cfg = ServiceConfig::load(&ok).unwrap();
        assert_eq!(cfg.cameras[0].calibration.camera_id, "cam1");
        for (site, id, field) in [
            ("east/district-9", "cam1", "field site"),
            ("#", "cam1", "field site"),
            ("", "cam1", "field site"),
            ("d7", "cam+1", "field id"),
            ("d7", "../x", "field id"),
        ] {
            let p = write(dir.path(), "bad.toml", &service(site, id));
            let e = ServiceConfig::load(&p).unwrap_err().to_string();
            assert!(
                e.contains("bad.toml:") && e.contains(field),
                "{site:?} {id:?}: {e}"
            );
        }
        for (key, value) in [("camera_id", "cam+1"), ("site", "east/9")] {
            let text = CAL.replace(
                &format!(
                    "{key} = \"{}\"",
                    if key == "site" { "s" } else { "calib-id" }
                ),
                &format!("{key} = \"{value}\""),
            );
            write(dir.path(), "cal.toml", &text);
            let e = ServiceConfig::load(&ok).unwrap_err().to_string();
            assert!(
                e.contains("cal.toml:") && e.contains(&format!("field {key}")),
                "{key}: {e}"
            );
        }
    }

    /// The execution provider is one of a closed set (CPU by default); anything else is refused
    /// with the file, line and the values it may take. A configuration without cameras is valid
    /// (a box installed and not yet set up runs idle).
    #[test]
    fn execution_provider_and_no_cameras() {
        use crate::model::Provider;
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cal.toml", CAL);
        let with = |line: &str| {
            let text = format!("{line}\n{}", service("d7", "cam1"));
            ServiceConfig::load(&write(dir.path(), "svc.toml", &text)).map_err(|e| e.to_string())
        };
        assert_eq!(with("").unwrap().execution_provider, Provider::Cpu);
        assert_eq!(
            with("execution_provider = \"tensorrt\"")
                .unwrap()
                .execution_provider,
            Provider::TensorRt
        );
        let e = with("execution_provider = \"gpu\"").unwrap_err();
        assert!(
            e.contains("svc.toml:1") && e.contains("gpu") && e.contains("openvino"),
            "{e}"
        );
        let idle = "site = \"d7\"\n[mqtt]\nhost = \"h\"\n[storage]\ndir = \"st\"\n";
        let c = ServiceConfig::load(&write(dir.path(), "idle.toml", idle)).unwrap();
        assert!(c.cameras.is_empty());
    }

    /// Values out of range are refused with the field named, not accepted and misused.
    #[test]
    fn out_of_range_values_name_their_field() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cal.toml", CAL);
        let good = service("d7", "cam1");
        for (from, to, field) in [
            ("host = \"h\"", "host = \" \"", "mqtt.host"),
            ("host = \"h\"", "host = \"h\"\nport = 0", "mqtt.port"),
            (
                "host = \"h\"",
                "host = \"h\"\nconnect_timeout_s = 0",
                "mqtt.connect_timeout_s",
            ),
            (
                "host = \"h\"",
                "host = \"h\"\nkeep_alive_s = 70000",
                "mqtt.keep_alive_s",
            ),
            (
                "host = \"h\"",
                "host = \"h\"\nmax_packet_kb = 4",
                "mqtt.max_packet_kb",
            ),
            ("site = \"d7\"", "site = \"d7\"\nthreads = 65536", "threads"),
            (
                "site = \"d7\"",
                "site = \"d7\"\nhealth_interval_s = 0",
                "health_interval_s",
            ),
            ("dir = \"st\"", "dir = \"\"", "storage.dir"),
            (
                "calibration = \"cal.toml\"",
                "calibration = \"cal.toml\"\nopen_timeout_s = 0.5",
                "open_timeout_s",
            ),
            (
                "calibration = \"cal.toml\"",
                "calibration = \"cal.toml\"\nread_timeout_s = 1e9",
                "read_timeout_s",
            ),
            (
                "dir = \"st\"",
                "dir = \"st\"\nmax_outbox = 0",
                "storage.max_outbox",
            ),
            (
                "dir = \"st\"",
                "dir = \"st\"\nclip_after_s = -1",
                "storage.clip_after_s",
            ),
            (
                "dir = \"st\"",
                "dir = \"st\"\nclip_before_s = nan",
                "storage.clip_before_s",
            ),
            (
                "dir = \"st\"",
                "dir = \"st\"\nclip_width = 100000",
                "storage.clip_width",
            ),
        ] {
            assert!(good.contains(from), "{from}");
            let p = write(dir.path(), "bad.toml", &good.replacen(from, to, 1));
            let e = ServiceConfig::load(&p).unwrap_err().to_string();
            assert!(e.contains("bad.toml") && e.contains(field), "{field}: {e}");
        }
    }
}
