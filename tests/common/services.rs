//! Real services on loopback for the live tests and the live-load benchmark: a Mosquitto
//! broker and the GStreamer RTSP test server (scripts/rtsp_server.py), each stopped (SIGTERM,
//! then SIGKILL) when dropped. Self-contained, so that `benches/` can include it by path.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(port: u16, what: &str) {
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A test CA and a server certificate for 127.0.0.1 in `dir`: `ca.crt`, `server.crt`,
/// `server.key` (openssl, valid one day).
pub fn test_ca(dir: &Path) {
    for cmd in [
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=streetwatch-test-ca",
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1",
        "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile ext",
    ] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd}: {out:?}");
    }
}

/// A child process that is terminated (SIGTERM, then SIGKILL after 10 s) when dropped.
pub struct Proc(pub Option<Child>);

impl Proc {
    pub fn alive(&mut self) -> bool {
        matches!(self.0.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn pid(&self) -> Option<u32> {
        self.0.as_ref().map(|c| c.id())
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Mosquitto broker on loopback with persistence (so subscribers' sessions survive restarts).
pub struct Broker {
    pub port: u16,
    dir: PathBuf,
    pub child: Proc,
}

impl Broker {
    pub fn start(dir: &Path, password: Option<(&str, &str)>) -> Broker {
        Broker::start_with(dir, password, "")
    }

    /// A broker with `extra` lines in its configuration (e.g. `max_packet_size 65536`).
    pub fn start_with(dir: &Path, password: Option<(&str, &str)>, extra: &str) -> Broker {
        let mut b = Broker {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: Proc(None),
        };
        std::fs::create_dir_all(dir).unwrap();
        // `user root`: as root, Mosquitto would otherwise switch to its own user and could not
        // write its persistence file here.
        let mut conf = format!(
            "listener {} 127.0.0.1\nuser root\npersistence true\npersistence_location {}/\n",
            b.port,
            dir.display()
        );
        conf.push_str(extra);
        match password {
            None => conf.push_str("allow_anonymous true\n"),
            Some((u, p)) => {
                let pw = dir.join("passwd");
                std::fs::write(&pw, "").unwrap();
                assert!(Command::new("mosquitto_passwd")
                    .args(["-b", &pw.to_string_lossy(), u, p])
                    .status()
                    .unwrap()
                    .success());
                conf.push_str(&format!(
                    "allow_anonymous false\npassword_file {}\n",
                    pw.display()
                ));
            }
        }
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        b.restart();
        b
    }

    /// A broker whose `dir/mosquitto.conf` the caller wrote (listening on `port`).
    pub fn with_conf(dir: &Path, port: u16) -> Broker {
        let mut b = Broker {
            port,
            dir: dir.to_path_buf(),
            child: Proc(None),
        };
        b.restart();
        b
    }

    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.join("mosquitto.log")).unwrap();
        self.child = Proc(Some(
            Command::new("mosquitto")
                .args(["-c", &self.dir.join("mosquitto.conf").to_string_lossy()])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("mosquitto (scripts/setup.sh --test installs it)"),
        ));
        wait_port(self.port, "mosquitto");
    }

    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// The GStreamer RTSP test server (Debian's python3) serving files in real time: other video
/// files decoded, re-encoded to H.264 and looped; `.mkv` files holding H.264 passed through
/// as they are (no encoding cost on this machine; they play once).
pub struct Rtsp {
    pub port: u16,
    root: PathBuf,
    streams: Vec<(String, PathBuf)>,
    /// RTP over the RTSP connection only (no UDP), as through a 4G NAT or a TCP proxy.
    pub tcp_only: bool,
    pub child: Proc,
}

impl Rtsp {
    /// `root`: the project (for scripts/rtsp_server.py); `streams`: mount name and file.
    pub fn start_files(root: &Path, streams: &[(&str, PathBuf)]) -> Rtsp {
        Rtsp::start_with(root, streams, false)
    }

    pub fn start_with(root: &Path, streams: &[(&str, PathBuf)], tcp_only: bool) -> Rtsp {
        let mut r = Rtsp {
            tcp_only,
            port: free_port(),
            root: root.to_path_buf(),
            streams: streams
                .iter()
                .map(|(n, p)| (n.to_string(), p.clone()))
                .collect(),
            child: Proc(None),
        };
        r.restart();
        r
    }

    pub fn restart(&mut self) {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(self.root.join("scripts/rtsp_server.py"))
            .args(["--port", &self.port.to_string()]);
        if self.tcp_only {
            cmd.arg("--tcp-only");
        }
        for (name, file) in &self.streams {
            cmd.arg(format!("{name}={}", file.display()));
        }
        self.child = Proc(Some(
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the RTSP test server"),
        ));
        wait_port(self.port, "the RTSP server");
    }

    pub fn url(&self, stream: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{stream}", self.port)
    }

    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// A PostgreSQL server of its own in `dir` on a free loopback port (Debian's `postgresql`
/// binaries; as root, run as the `postgres` user, since the server refuses root). Stopped when
/// dropped.
pub struct Postgres {
    pub port: u16,
    pub child: Proc,
}

impl Postgres {
    pub fn start(dir: &Path) -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("postgresql (scripts/setup.sh --test installs it)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").is_file())
            .max()
            .expect("an initdb under /usr/lib/postgresql");
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let cmd = |program: &str| {
            let mut c = if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin.join(program));
                c
            } else {
                Command::new(bin.join(program))
            };
            c.stdout(Stdio::null()).stderr(Stdio::null());
            c
        };
        if root {
            assert!(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()
                .unwrap()
                .success());
        }
        assert!(
            cmd("initdb")
                .args(["--auth=trust", "-U", "postgres", "-E", "UTF8", "-D"])
                .arg(&data)
                .status()
                .unwrap()
                .success(),
            "initdb failed"
        );
        let port = free_port();
        let child = cmd("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(dir)
            .spawn()
            .expect("postgres");
        wait_port(port, "postgres");
        // Listening is not yet accepting queries: wait for a real one.
        let t0 = Instant::now();
        while !Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-c",
                "select 1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "postgres did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Postgres {
            port,
            child: Proc(Some(child)),
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}
