//! The violations streetwatch reports and their kinds: one closed vocabulary for the rules that
//! raise them, the dispatch table that codes them, the alert payload (and its JSON Schema) that
//! carries them and the scorer that counts them.

use serde::{Deserialize, Serialize};

/// The violations streetwatch reports.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ViolationType {
    /// Street vending and occupation (占道经营, 流动摊贩, 店外经营, piled goods).
    Vending,
    /// Two-wheelers parked where they must not be (非机动车乱停乱放).
    Parking,
    /// Outdoor barbecue smoke (露天烧烤).
    Smoke,
}

/// The kinds of each violation.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Subtype {
    /// Vending: people with a stall in a `no_vending` zone.
    MobileVendor,
    /// Vending: people with a stall in a `storefront` zone.
    OutOfStore,
    /// Vending: goods or an occupied region without people.
    PiledGoods,
    /// Vending: people staying without any stall cue.
    PersonOccupation,
    /// Parking: two-wheelers parked in a `no_parking` zone.
    NoParkingZone,
    /// Parking: a `bike_parking` zone over its capacity.
    OverCapacity,
    /// Parking: two-wheelers parked out of line in a `bike_parking` zone.
    Disorder,
    /// Parking: a `walkway` narrowed below its minimum clear width.
    WalkwayBlocked,
    /// Smoke: outdoor barbecue.
    Barbecue,
}

impl ViolationType {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationType::Vending => "vending",
            ViolationType::Parking => "parking",
            ViolationType::Smoke => "smoke",
        }
    }
}

impl Subtype {
    pub fn as_str(self) -> &'static str {
        match self {
            Subtype::MobileVendor => "mobile_vendor",
            Subtype::OutOfStore => "out_of_store",
            Subtype::PiledGoods => "piled_goods",
            Subtype::PersonOccupation => "person_occupation",
            Subtype::NoParkingZone => "no_parking_zone",
            Subtype::OverCapacity => "over_capacity",
            Subtype::Disorder => "disorder",
            Subtype::WalkwayBlocked => "walkway_blocked",
            Subtype::Barbecue => "barbecue",
        }
    }

    /// The violation this is a kind of.
    pub fn violation(self) -> ViolationType {
        match self {
            Subtype::MobileVendor
            | Subtype::OutOfStore
            | Subtype::PiledGoods
            | Subtype::PersonOccupation => ViolationType::Vending,
            Subtype::NoParkingZone
            | Subtype::OverCapacity
            | Subtype::Disorder
            | Subtype::WalkwayBlocked => ViolationType::Parking,
            Subtype::Barbecue => ViolationType::Smoke,
        }
    }

    pub const ALL: [Subtype; 9] = [
        Subtype::MobileVendor,
        Subtype::OutOfStore,
        Subtype::PiledGoods,
        Subtype::PersonOccupation,
        Subtype::NoParkingZone,
        Subtype::OverCapacity,
        Subtype::Disorder,
        Subtype::WalkwayBlocked,
        Subtype::Barbecue,
    ];
}

impl std::fmt::Display for ViolationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Subtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for s in Subtype::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Subtype>(&json).unwrap(), s);
            let v = s.violation();
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.as_str())
            );
        }
        assert!(serde_json::from_str::<Subtype>("\"graffiti\"").is_err());
    }
}
