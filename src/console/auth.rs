//! Operator accounts: passwords kept as Argon2id PHC strings in console.toml (made by
//! `streetwatch console --hash-password`), sessions as random cookies held in memory (a
//! console restart signs everyone out), and a throttle on failed logins per account (five in a
//! minute lock it for the rest of that minute). When accounts are configured every page but
//! the login and `/healthz` needs a session, and a decision is recorded under the signed-in
//! operator's name, not a typed one.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::config::OperatorConfig;

/// Failed logins allowed per account within `WINDOW_MS`.
pub const MAX_FAILURES: usize = 5;
pub const WINDOW_MS: i64 = 60_000;
/// A session ends after this long without a request (a shift and a half).
pub const IDLE_MS: i64 = 12 * 3_600_000;
/// Most sessions held at once (oldest dropped first).
const MAX_SESSIONS: usize = 1_000;

/// Recent failed logins of one account. Pure: times are given.
#[derive(Debug, Default, Clone)]
pub struct Throttle {
    failures: Vec<i64>,
}

impl Throttle {
    /// Whether a login may be tried now.
    pub fn allows(&self, now_ms: i64) -> bool {
        self.failures
            .iter()
            .filter(|t| now_ms - **t < WINDOW_MS)
            .count()
            < MAX_FAILURES
    }

    pub fn fail(&mut self, now_ms: i64) {
        self.failures.retain(|t| now_ms - *t < WINDOW_MS);
        self.failures.push(now_ms);
    }

    pub fn clear(&mut self) {
        self.failures.clear();
    }
}

/// The operator a session belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn {
    pub name: String,
    /// What decisions record: "display name (login)" or the login.
    pub label: String,
}

struct Session {
    who: SignedIn,
    last_ms: i64,
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown name or wrong password (not told apart).
    Wrong,
    /// Too many failures in the last minute.
    Locked,
}

pub struct Auth {
    operators: Vec<OperatorConfig>,
    sessions: Mutex<HashMap<String, Session>>,
    throttles: Mutex<HashMap<String, Throttle>>,
    /// Cookies marked `Secure` (the console is served through HTTPS by a proxy).
    pub secure_cookies: bool,
}

/// A PHC string for a password (Argon2id, the crate's default parameters, a random salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    crate::digest::random_bytes(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Auth {
    pub fn new(operators: Vec<OperatorConfig>, secure_cookies: bool) -> Auth {
        Auth {
            operators,
            sessions: Mutex::new(HashMap::new()),
            throttles: Mutex::new(HashMap::new()),
            secure_cookies,
        }
    }

    /// Whether pages need a session.
    pub fn enabled(&self) -> bool {
        !self.operators.is_empty()
    }

    /// Checks a login (slow on purpose: Argon2; call it off the async threads) and opens a
    /// session: its cookie value.
    pub fn login(&self, name: &str, password: &str, now_ms: i64) -> Result<String, Refusal> {
        let key = name.trim().to_string();
        if !lock(&self.throttles)
            .get(&key)
            .is_none_or(|t| t.allows(now_ms))
        {
            return Err(Refusal::Locked);
        }
        let op = self.operators.iter().find(|o| o.name == key);
        // An unknown name costs a verification too, so that it cannot be told from a wrong
        // password by the time taken.
        let hash = op.map(|o| o.password_hash.as_str()).unwrap_or(DUMMY_HASH);
        let ok = PasswordHash::new(hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        let Some(op) = op.filter(|_| ok) else {
            lock(&self.throttles).entry(key).or_default().fail(now_ms);
            return Err(Refusal::Wrong);
        };
        lock(&self.throttles).remove(&key);
        let mut token = [0u8; 32];
        if crate::digest::random_bytes(&mut token).is_err() {
            return Err(Refusal::Wrong);
        }
        let token = crate::signature::to_hex(&token);
        let label = match &op.display_name {
            Some(d) => format!("{d} ({})", op.name),
            None => op.name.clone(),
        };
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| now_ms - s.last_ms < IDLE_MS);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_ms)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            token.clone(),
            Session {
                who: SignedIn {
                    name: op.name.clone(),
                    label,
                },
                last_ms: now_ms,
            },
        );
        Ok(token)
    }

    /// The operator of a session cookie (and the session kept alive), if it is one.
    pub fn session(&self, token: &str, now_ms: i64) -> Option<SignedIn> {
        let mut sessions = lock(&self.sessions);
        let s = sessions.get_mut(token)?;
        if now_ms - s.last_ms >= IDLE_MS {
            sessions.remove(token);
            return None;
        }
        s.last_ms = now_ms;
        Some(s.who.clone())
    }

    pub fn logout(&self, token: &str) {
        lock(&self.sessions).remove(token);
    }
}

/// A valid Argon2id hash of a random password nobody knows (for unknown names).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Dq6kQh4TaQ3c4h9xR7z8C4xY0cX9nQZtJ4gk0v3x1nU";

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(
            vec![
                OperatorConfig {
                    name: "wang.wu".into(),
                    display_name: Some("王五".into()),
                    password_hash: hash_password("correct horse").unwrap(),
                },
                OperatorConfig {
                    name: "li".into(),
                    display_name: None,
                    password_hash: hash_password("battery staple").unwrap(),
                },
            ],
            false,
        )
    }

    #[test]
    fn a_login_opens_a_session_under_the_operators_name() {
        let a = auth();
        assert!(a.enabled());
        let t = a.login("wang.wu", "correct horse", 0).unwrap();
        assert_eq!(t.len(), 64);
        let who = a.session(&t, 1_000).unwrap();
        assert_eq!(
            (who.name.as_str(), who.label.as_str()),
            ("wang.wu", "王五 (wang.wu)")
        );
        assert_eq!(
            a.login("li", "correct horse", 0),
            Err(Refusal::Wrong),
            "another's password"
        );
        assert_eq!(a.login("nobody", "correct horse", 0), Err(Refusal::Wrong));
        assert_eq!(a.session(&"0".repeat(64), 0), None);
        // Idle too long: gone.
        assert_eq!(a.session(&t, 1_000 + IDLE_MS), None);
        let t = a.login("li", "battery staple", 0).unwrap();
        a.logout(&t);
        assert_eq!(a.session(&t, 1), None);
        assert_ne!(
            a.login("li", "battery staple", 0).unwrap(),
            a.login("li", "battery staple", 0).unwrap(),
            "every session its own token"
        );
    }

    #[test]
    fn five_failures_in_a_minute_lock_the_account_for_the_rest_of_it() {
        let a = auth();
        for i in 0..MAX_FAILURES as i64 {
            assert_eq!(a.login("li", "guess", i * 1_000), Err(Refusal::Wrong));
        }
        assert_eq!(
            a.login("li", "battery staple", 10_000),
            Err(Refusal::Locked),
            "even the right password"
        );
        assert_eq!(
            a.login("wang.wu", "correct horse", 10_000).map(|t| t.len()),
            Ok(64),
            "other accounts unaffected"
        );
        assert!(
            a.login("li", "battery staple", WINDOW_MS + 1_000).is_ok(),
            "a minute later"
        );
        let mut t = Throttle::default();
        t.fail(0);
        t.clear();
        assert!(t.allows(0));
    }

    #[test]
    fn the_dummy_hash_is_a_valid_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
