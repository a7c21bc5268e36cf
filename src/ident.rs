//! The one rule for identifiers that reach an MQTT topic or a file name (camera ids, sites,
//! alert ids, snapshot names): 1-128 ASCII letters, digits, `-`, `_` and `.`, not starting
//! with `.`. Such a name holds no topic separator or wildcard (`/ + #`), no path separator,
//! no `..`, no NUL or control character, and never names a hidden file.

/// Longest identifier, bytes.
pub const MAX_LEN: usize = 128;

/// Whether `name` is a plain identifier.
pub fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `Ok` for a plain identifier, else what is wrong with it, for an error naming the field.
pub fn check(name: &str) -> Result<(), String> {
    if is_plain(name) {
        return Ok(());
    }
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name.len() > MAX_LEN {
        format!("it is {} bytes long (at most {MAX_LEN})", name.len())
    } else if name.starts_with('.') {
        "it starts with '.'".to_string()
    } else {
        let bad: String = name
            .chars()
            .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .take(1)
            .flat_map(char::escape_default)
            .collect();
        format!("it holds '{bad}'")
    };
    Err(format!(
        "'{}' is not a plain identifier ({why}): use letters, digits, '-', '_' and '.' (it names MQTT topics and files)",
        name.chars().take(40).flat_map(char::escape_default).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class of hostile names: every topic wildcard and separator, path tricks, control
    /// characters, a terminal escape, non-ASCII look-alikes, emptiness and length.
    #[test]
    fn hostile_names_are_refused_and_plain_ones_kept() {
        for bad in [
            "",
            "cam+1",
            "cam#",
            "east/district-9",
            "#",
            "+",
            "..",
            ".hidden",
            "../../../x",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            "a\nb",
            "cam\u{1b}[31m",
            "cam 1",
            "摄像头1",
            "cаm", // Cyrillic a
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert!(!is_plain(bad), "{bad:?} was accepted");
            let e = check(bad).unwrap_err();
            assert!(
                !e.contains('\0') && !e.contains('\u{1b}') && !e.contains('\n'),
                "{e:?}"
            );
        }
        for good in [
            "cam1",
            "vtest-crossing",
            "district_7",
            "a.b",
            &"x".repeat(MAX_LEN),
        ] {
            assert!(check(good).is_ok(), "{good:?} was refused");
        }
    }
}
