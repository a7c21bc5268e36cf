//! The event-code table: streetwatch violation types → the dispatch center's own codes.
//! Codes differ between cities, so a calibration's `[dispatch]` table may override any entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// Every key the table accepts.
pub const KNOWN_KEYS: &[&str] = &[
    "vending",
    "vending.mobile_vendor",
    "vending.person_occupation",
    "vending.out_of_store",
    "vending.piled_goods",
    "parking",
    "parking.no_parking_zone",
    "parking.over_capacity",
    "parking.disorder",
    "parking.walkway_blocked",
    "smoke",
    "smoke.barbecue",
];

impl DispatchTable {
    /// Defaults overridden by a TOML table of `key = { code = "...", name = "..." }`.
    pub fn with_overrides(table: &toml::Table) -> Result<DispatchTable, String> {
        let mut t = DispatchTable::default();
        for (key, value) in table {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "unknown event key '{key}' (known: {})",
                    KNOWN_KEYS.join(", ")
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

    pub fn lookup(&self, event_type: &str, subtype: &str) -> Option<&DispatchCode> {
        self.entries
            .get(&format!("{event_type}.{subtype}"))
            .or_else(|| self.entries.get(event_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtype_entry_then_type_entry() {
        let t = DispatchTable::default();
        assert_eq!(
            t.lookup("vending", "out_of_store").unwrap().name,
            "店外经营"
        );
        assert_eq!(t.lookup("parking", "over_capacity").unwrap().code, "0103");
        assert!(t.lookup("graffiti", "x").is_none());
    }

    #[test]
    fn overrides_and_unknown_keys() {
        let table: toml::Table =
            toml::from_str("[\"parking.walkway_blocked\"]\ncode = \"B-7\"\nname = \"盲道占用\"")
                .unwrap();
        let t = DispatchTable::with_overrides(&table).unwrap();
        assert_eq!(t.lookup("parking", "walkway_blocked").unwrap().code, "B-7");
        assert_eq!(t.lookup("parking", "over_capacity").unwrap().code, "0103");
        let bad: toml::Table = toml::from_str("[grafitti]\ncode = \"1\"\nname = \"x\"").unwrap();
        assert!(DispatchTable::with_overrides(&bad)
            .unwrap_err()
            .contains("grafitti"));
    }
}
