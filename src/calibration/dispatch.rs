//! The event-code table: streetwatch violation types → the dispatch center's own codes.
//! Codes differ between cities, so a calibration's `[dispatch]` table may override any entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::violation::Subtype;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchCode {
    pub code: String,
    pub name: String,
}

/// Keyed by `type.subtype` (e.g. `vending.mobile_vendor`); a key `type` alone applies to every
/// subtype without an entry of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchTable {
    entries: BTreeMap<String, DispatchCode>,
}

/// The documented default set (digital city-management categories).
pub const DEFAULTS: &[(&str, &str, &str)] = &[
    ("vending.mobile_vendor", "0101", "街面秩序/无照经营游商"),
    ("vending.person_occupation", "0101", "街面秩序/无照经营游商"),
    ("vending.out_of_store", "0102", "店外经营"),
    ("vending.piled_goods", "0105", "乱堆物料"),
    ("parking", "0103", "非机动车乱停放"),
    ("smoke", "0104", "露天烧烤"),
];

impl Default for DispatchTable {
    fn default() -> Self {
        DispatchTable {
            entries: DEFAULTS
                .iter()
                .map(|(k, c, n)| {
                    (
                        k.to_string(),
                        DispatchCode {
                            code: c.to_string(),
                            name: n.to_string(),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// The key of a subtype's own entry: `type.subtype`.
fn key(s: Subtype) -> String {
    format!("{}.{}", s.violation(), s)
}

/// Every key the table accepts: each type, and each type.subtype.
pub fn known_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for s in Subtype::ALL {
        let t = s.violation().as_str().to_string();
        if !keys.contains(&t) {
            keys.push(t);
        }
        keys.push(key(s));
    }
    keys
}

impl DispatchTable {
    /// Defaults overridden by a TOML table of `key = { code = "...", name = "..." }`.
    pub fn with_overrides(table: &toml::Table) -> Result<DispatchTable, String> {
        let mut t = DispatchTable::default();
        let known = known_keys();
        for (key, value) in table {
            if !known.contains(key) {
                return Err(format!(
                    "unknown event key '{key}' (known: {})",
                    known.join(", ")
                ));
            }
            let code: DispatchCode = value.clone().try_into().map_err(|e: toml::de::Error| {
                format!(
                    "entry '{key}': {} (expected {{ code = \"…\", name = \"…\" }})",
                    e.message()
                )
            })?;
            t.entries.insert(key.clone(), code);
        }
        Ok(t)
    }

    /// The code for a subtype: its own entry, else its type's.
    pub fn lookup(&self, subtype: Subtype) -> Option<&DispatchCode> {
        self.entries
            .get(&key(subtype))
            .or_else(|| self.entries.get(subtype.violation().as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtype_entry_then_type_entry() {
        let t = DispatchTable::default();
        assert_eq!(t.lookup(Subtype::OutOfStore).unwrap().name, "店外经营");
        assert_eq!(t.lookup(Subtype::OverCapacity).unwrap().code, "0103");
        assert_eq!(t.lookup(Subtype::Barbecue).unwrap().code, "0104");
        // Every default key is a known one.
        for (k, _, _) in DEFAULTS {
            assert!(known_keys().contains(&k.to_string()), "{k}");
        }
    }

    #[test]
    fn overrides_and_unknown_keys() {
        let table: toml::Table =
            toml::from_str("[\"parking.walkway_blocked\"]\ncode = \"B-7\"\nname = \"盲道占用\"")
                .unwrap();
        let t = DispatchTable::with_overrides(&table).unwrap();
        assert_eq!(t.lookup(Subtype::WalkwayBlocked).unwrap().code, "B-7");
        assert_eq!(t.lookup(Subtype::OverCapacity).unwrap().code, "0103");
        let bad: toml::Table = toml::from_str("[grafitti]\ncode = \"1\"\nname = \"x\"").unwrap();
        assert!(DispatchTable::with_overrides(&bad)
            .unwrap_err()
            .contains("grafitti"));
    }
}
