//! What a detector reports, as plain data for the pure core (tracker, rules, cues): a class and
//! a score on a box, and the COCO classes the rules themselves name. `detect` produces these;
//! nothing here knows about models.

use serde::{Deserialize, Serialize};

use crate::geometry::BBox;

/// One detection in frame pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub class_id: usize,
    pub class: String,
    pub score: f32,
    pub bbox: BBox,
}

/// The COCO classes the pipeline names itself (zones name any class of the model by string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CocoClass {
    Person,
    Bicycle,
    Car,
    Motorcycle,
    Bus,
    Truck,
}

impl CocoClass {
    /// The class's name in COCO's label list.
    pub fn as_str(self) -> &'static str {
        match self {
            CocoClass::Person => "person",
            CocoClass::Bicycle => "bicycle",
            CocoClass::Car => "car",
            CocoClass::Motorcycle => "motorcycle",
            CocoClass::Bus => "bus",
            CocoClass::Truck => "truck",
        }
    }

    /// Whether a class name is this class.
    pub fn is(self, name: &str) -> bool {
        name == self.as_str()
    }
}

/// Two-wheelers: detectors confuse bicycles and motorcycles, so they are one group for tracking
/// and the parking zones' default classes.
pub const TWO_WHEELERS: [CocoClass; 2] = [CocoClass::Bicycle, CocoClass::Motorcycle];

/// People and vehicles: neither goods (static foreground) nor smoke, however still they stand
/// or white they are.
pub const PEOPLE_AND_VEHICLES: [CocoClass; 6] = [
    CocoClass::Person,
    CocoClass::Bicycle,
    CocoClass::Motorcycle,
    CocoClass::Car,
    CocoClass::Truck,
    CocoClass::Bus,
];
