//! Cases: one per episode. The start, updates and end of an episode fold into one row (the
//! timeline keeps every message); the operator's decision (dispatch, dismiss as a false alarm,
//! close) sits beside what the camera saw. Pure: alerts and decisions in, cases out.

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::rules::{Phase, Reason};
use crate::violation::{Subtype, ViolationType};

/// What an operator decided about a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Sent to the grid cell's officers.
    Dispatch,
    /// A false alarm: nothing to enforce.
    Dismiss,
    /// Handled and closed.
    Close,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::Dispatch, Decision::Dismiss, Decision::Close];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Dispatch => "dispatch",
            Decision::Dismiss => "dismiss",
            Decision::Close => "close",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The state a case is in after this decision.
    pub fn state(self) -> State {
        match self {
            Decision::Dispatch => State::Dispatched,
            Decision::Dismiss => State::Dismissed,
            Decision::Close => State::Closed,
        }
    }
}

/// A case's state as the control room sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Raised, still seen on camera, no decision yet.
    Open,
    /// The camera no longer sees it (ended with reason `cleared`), no decision yet: the
    /// verification step of the city-management workflow.
    ClearedOnCamera,
    /// Ended without being seen to clear (footage ended, not seen after a restart).
    Ended,
    Dispatched,
    Dismissed,
    Closed,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Open,
        State::ClearedOnCamera,
        State::Ended,
        State::Dispatched,
        State::Dismissed,
        State::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::ClearedOnCamera => "cleared_on_camera",
            State::Ended => "ended",
            State::Dispatched => "dispatched",
            State::Dismissed => "dismissed",
            State::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// English and Chinese labels.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            State::Open => ("open", "待处置"),
            State::ClearedOnCamera => ("cleared on camera", "现场已消除"),
            State::Ended => ("ended", "已结束"),
            State::Dispatched => ("dispatched", "已派遣"),
            State::Dismissed => ("false alarm", "误报"),
            State::Closed => ("closed", "已结案"),
        }
    }
}

/// English and Chinese labels of a violation type.
pub fn type_label(t: ViolationType) -> (&'static str, &'static str) {
    match t {
        ViolationType::Vending => ("street vending", "占道经营"),
        ViolationType::Parking => ("two-wheeler parking", "非机动车乱停放"),
        ViolationType::Smoke => ("outdoor barbecue", "露天烧烤"),
    }
}

/// English and Chinese labels of a subtype (the kind of violation within its type).
pub fn subtype_label(s: Subtype) -> (&'static str, &'static str) {
    match s {
        Subtype::MobileVendor => ("mobile vendor", "流动摊贩"),
        Subtype::OutOfStore => ("out-of-store business", "店外经营"),
        Subtype::PiledGoods => ("piled goods", "占道堆物"),
        Subtype::PersonOccupation => ("occupation", "占道"),
        Subtype::NoParkingZone => ("parked in a no-parking zone", "禁停区停放"),
        Subtype::OverCapacity => ("over capacity", "超容停放"),
        Subtype::Disorder => ("disorderly parking", "乱停乱放"),
        Subtype::WalkwayBlocked => ("walkway blocked", "占用通道"),
        Subtype::Barbecue => ("outdoor barbecue", "露天烧烤"),
    }
}

/// One case: what the camera saw (from its alerts) and what the control room decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub episode_id: String,
    /// The latest alert of the episode (type, zone, measures, snapshot, times).
    pub last: Alert,
    /// Alert ids of the start (or the first seen) and the end, for their snapshots.
    pub first_alert: String,
    pub end_alert: Option<String>,
    /// Why the camera ended it.
    pub end_reason: Option<Reason>,
    pub decision: Option<Decision>,
    pub operator: Option<String>,
    /// Unix milliseconds of the decision.
    pub decided_ms: Option<i64>,
    /// Messages folded in.
    pub messages: i64,
    /// Unix milliseconds of the first and latest message received.
    pub received_ms: i64,
    pub updated_ms: i64,
}

impl Case {
    /// The day the case was raised, `YYYY-MM-DD`: the camera's local date when its alert
    /// carries wall time, else the UTC date the console received it.
    pub fn day(&self) -> String {
        let local = self.last.first_seen_wall.as_deref().and_then(|w| {
            let d = w.get(..10)?;
            let b = d.as_bytes();
            let ok = b.len() == 10
                && b[4] == b'-'
                && b[7] == b'-'
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
            ok.then(|| d.to_string())
        });
        local.unwrap_or_else(|| {
            let t = crate::time::format_rfc3339(
                self.received_ms as f64 / 1000.0,
                &crate::time::TimeZone::UTC,
            );
            t.get(..10).unwrap_or(&t).to_string()
        })
    }

    /// Seconds from first seen to seen clear, for a case the camera saw clear.
    pub fn clear_seconds(&self) -> Option<f64> {
        (self.end_reason == Some(Reason::Cleared) && self.last.duration_s.is_finite())
            .then_some(self.last.duration_s.max(0.0))
    }

    pub fn state(&self) -> State {
        match (self.decision, self.end_reason) {
            (Some(d), _) => d.state(),
            (None, None) => State::Open,
            (None, Some(Reason::Cleared)) => State::ClearedOnCamera,
            (None, Some(_)) => State::Ended,
        }
    }
}

/// Folds one alert into its episode's case (`None`: the first message of the episode, whatever
/// its phase: an update can arrive first after a restart of the edge service). Messages may
/// arrive out of order (QoS 1 redelivery): an older message never replaces a newer one's
/// content, and an end stays an end.
pub fn fold(case: Option<Case>, alert: &Alert, now_ms: i64) -> Case {
    let Some(mut c) = case else {
        let ended = alert.phase == Phase::End;
        return Case {
            episode_id: alert.episode_id.clone(),
            last: alert.clone(),
            first_alert: alert.id.clone(),
            end_alert: ended.then(|| alert.id.clone()),
            end_reason: if ended {
                Some(alert.reason.unwrap_or(Reason::Cleared))
            } else {
                None
            },
            decision: None,
            operator: None,
            decided_ms: None,
            messages: 1,
            received_ms: now_ms,
            updated_ms: now_ms,
        };
    };
    c.messages += 1;
    c.updated_ms = now_ms;
    // Alert ids are UUIDv7: they sort by the time the edge made them.
    let newer = alert.id > c.last.id;
    if alert.phase == Phase::Start || alert.id < c.first_alert {
        c.first_alert = alert.id.clone();
    }
    if alert.phase == Phase::End {
        c.end_alert = Some(alert.id.clone());
        c.end_reason = Some(alert.reason.unwrap_or(Reason::Cleared));
    }
    if newer && c.last.phase != Phase::End || alert.phase == Phase::End {
        c.last = alert.clone();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, phase: Phase, reason: Option<Reason>, count: u32) -> Alert {
        let mut a: Alert =
            serde_json::from_str(include_str!("../../tests/data/alert.json")).unwrap();
        a.id = id.into();
        a.episode_id = "ep".into();
        a.phase = phase;
        a.reason = reason;
        a.measures.count = count;
        a
    }

    #[test]
    fn an_episode_folds_into_one_case_in_any_order() {
        let start = alert("01", Phase::Start, None, 2);
        let update = alert("02", Phase::Update, None, 3);
        let end = alert("03", Phase::End, Some(Reason::Cleared), 3);
        let c = fold(None, &start, 1);
        assert_eq!(c.state(), State::Open);
        let c = fold(Some(c), &update, 2);
        assert_eq!(c.last.measures.count, 3);
        let c = fold(Some(c), &end, 3);
        assert_eq!(c.state(), State::ClearedOnCamera);
        assert_eq!(
            (c.first_alert.as_str(), c.end_alert.as_deref()),
            ("01", Some("03"))
        );
        assert_eq!(c.messages, 3);
        // Out of order: the end first, then the update, then the start.
        let c = fold(None, &end, 1);
        let c = fold(Some(c), &update, 2);
        let c = fold(Some(c), &start, 3);
        assert_eq!(c.state(), State::ClearedOnCamera);
        assert_eq!(c.last.id, "03", "an older message does not replace the end");
        assert_eq!(c.first_alert, "01");
        // An episode that lapsed after a restart is ended, not cleared on camera.
        let lapsed = alert("04", Phase::End, Some(Reason::NotSeenAfterRestart), 1);
        assert_eq!(fold(None, &lapsed, 1).state(), State::Ended);
        // A decision wins over what the camera says.
        let mut c = fold(None, &start, 1);
        c.decision = Some(Decision::Dismiss);
        let c = fold(Some(c), &end, 2);
        assert_eq!(c.state(), State::Dismissed);
    }

    #[test]
    fn names_round_trip() {
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(Decision::parse("delete"), None);
    }
}
